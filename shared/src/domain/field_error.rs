use serde::Serialize;

/// One thing wrong with a request: which field (a JSON path such as
/// `records[3].src_bytes` or a query parameter), at which record, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where: a JSON path (`records[3].src_bytes`), a CSV position (`line 4: flag`),
    /// a query parameter, or `body`.
    #[schema(example = "records[3].src_bytes")]
    pub field: String,
    /// The record's index in the batch, for predict requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 3)]
    pub index: Option<usize>,
    #[schema(example = "must not be negative")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            index: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}
