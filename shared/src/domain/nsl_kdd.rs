//! The 41 features of an NSL-KDD connection record: the names and kinds every part of
//! Vigil agrees on (the detector's parser, the evidence alerts keep as CSV lines, the
//! feedback export's header, `GET /model`).

/// What a feature may hold; checked when a record is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// A string; unseen values are fine (they go to the model's "other" bucket).
    Categorical,
    /// A non-negative number (bytes, counts, seconds).
    Count,
    /// A fraction from 0 to 1.
    Rate,
    /// 0 or 1 (JSON `true`/`false` accepted too).
    Flag,
}

/// The 41 features in NSL-KDD column order (the order of a CSV line).
pub const FEATURES: [(&str, FeatureKind); 41] = {
    use FeatureKind::*;
    [
        ("duration", Count),
        ("protocol_type", Categorical),
        ("service", Categorical),
        ("flag", Categorical),
        ("src_bytes", Count),
        ("dst_bytes", Count),
        ("land", Flag),
        ("wrong_fragment", Count),
        ("urgent", Count),
        ("hot", Count),
        ("num_failed_logins", Count),
        ("logged_in", Flag),
        ("num_compromised", Count),
        ("root_shell", Count),
        ("su_attempted", Count),
        ("num_root", Count),
        ("num_file_creations", Count),
        ("num_shells", Count),
        ("num_access_files", Count),
        ("num_outbound_cmds", Count),
        ("is_host_login", Flag),
        ("is_guest_login", Flag),
        ("count", Count),
        ("srv_count", Count),
        ("serror_rate", Rate),
        ("srv_serror_rate", Rate),
        ("rerror_rate", Rate),
        ("srv_rerror_rate", Rate),
        ("same_srv_rate", Rate),
        ("diff_srv_rate", Rate),
        ("srv_diff_host_rate", Rate),
        ("dst_host_count", Count),
        ("dst_host_srv_count", Count),
        ("dst_host_same_srv_rate", Rate),
        ("dst_host_diff_srv_rate", Rate),
        ("dst_host_same_src_port_rate", Rate),
        ("dst_host_srv_diff_host_rate", Rate),
        ("dst_host_serror_rate", Rate),
        ("dst_host_srv_serror_rate", Rate),
        ("dst_host_rerror_rate", Rate),
        ("dst_host_srv_rerror_rate", Rate),
    ]
};
