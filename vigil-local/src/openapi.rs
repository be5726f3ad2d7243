//! The API contract, OpenAPI 3.1, generated from the handlers' annotations and the
//! types they read and write. `openapi.json` at the repository root is this document;
//! a test fails when they differ, and schemathesis checks the running API against it.
//! Assembled here, in the one binary that serves every route (predict's among them),
//! so the common crate compiles without it and without the detector.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        OpenApi as Document,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil API",
        description = "Network-threat detection and the alert workflow that follows.\n\n\
            Log in with `POST /auth/login` and send the token as `Authorization: Bearer <token>`. \
            Each operation's security requirement lists the roles that may call it. \
            Every error is `application/problem+json` (RFC 9457); bad requests name each \
            field at fault in `errors` (with the record's index for predict batches).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        vigil::health::health,
        vigil::auth::handlers::login,
        vigil::auth::handlers::register,
        vigil::auth::handlers::me,
        vigil::auth::handlers::list_users,
        vigil::auth::handlers::update_user,
        vigil::auth::handlers::ws_ticket,
        vigil::detect::handlers::predict,
        vigil::detect::handlers::model,
        vigil::alerts::handlers::list,
        vigil::alerts::handlers::create,
        vigil::alerts::handlers::get_one,
        vigil::alerts::handlers::history,
        vigil::alerts::handlers::update,
        vigil::alerts::handlers::bulk,
        vigil::feedback::handlers::export,
        vigil::reports::handlers::get_report,
    ),
    tags(
        (name = "health", description = "Is the service up, and which model does it run"),
        (name = "auth", description = "Log in, and manage users (admins)"),
        (name = "predict", description = "Score network connection records"),
        (name = "alerts", description = "The alert workflow"),
        (name = "reports", description = "What happened over a time frame"),
    ),
    components(schemas(
        // Used only by query parameters, which utoipa does not collect by itself.
        vigil::reports::ReportPeriod,
        vigil::reports::Bucket,
        vigil::reports::ReportFormat,
        vigil::feedback::FeedbackFormat,
    )),
    modifiers(&BearerJwt, &PredictAlias),
)]
pub struct ApiDoc;

/// The `bearer` security scheme: the JWT `POST /auth/login` returns. The scopes each
/// operation lists are the roles that may call it (JWTs carry one `role` claim).
struct BearerJwt;

impl Modify for BearerJwt {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token from POST /auth/login. Roles: admin, analyst, viewer, sensor (machines that submit network data).",
                    ))
                    .build(),
            ),
        );
    }
}

/// `POST /predict` is an alias of `POST /threat-detection/predict`: the same operation
/// under a second path, copied here so the two can never differ.
struct PredictAlias;

impl Modify for PredictAlias {
    fn modify(&self, doc: &mut Document) {
        let Some(mut item) = doc.paths.paths.get("/threat-detection/predict").cloned() else {
            return;
        };
        if let Some(op) = item.post.as_mut() {
            op.operation_id = Some("predict_alias".into());
            op.summary = Some("Score network connection records (alias)".into());
        }
        doc.paths.paths.insert("/predict".into(), item);
    }
}

/// The document, as `GET /openapi.json` serves it and `openapi.json` holds it.
pub fn document_json() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
    fix_link_keys(&mut doc);
    add_standard_errors(&mut doc);
    // "At least one change": a body whose only members are null changes nothing (the
    // parsers read null as absent), so each alternative requires a non-null member.
    require_any_change(
        &mut doc,
        "UserUpdate",
        &[
            ("role", "string"),
            ("disabled", "boolean"),
            ("password", "string"),
        ],
    );
    require_any_change(
        &mut doc,
        "AlertUpdateRequest",
        &[("status", "string"), ("assignee", ""), ("note", "string")],
    );
    let mut json = serde_json::to_string_pretty(&doc).expect("a JSON value serialises");
    json.push('\n');
    json
}

/// The errors any operation of a kind can answer, added here once rather than on every
/// handler (which list only their own: 404, 409, 422, 429, a GET's 400):
/// - 503 everywhere but `/health`: a store call failed; nothing was changed;
/// - 401 where a bearer token is required, 403 where only some roles may call;
/// - 400, 413 and 415 where there is a request body.
fn add_standard_errors(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    const ALL_ROLES: usize = 4;
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut().filter_map(Value::as_object_mut) {
            let roles = op
                .get("security")
                .and_then(|s| s.pointer("/0/bearer"))
                .and_then(Value::as_array)
                .map(Vec::len);
            let has_body = op.contains_key("requestBody");
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| problem(description));
            };
            if path != "/health" {
                add(
                    "503",
                    "The data store did not answer; nothing was changed (retry)",
                );
            }
            if let Some(roles) = roles {
                add("401", "No valid bearer token");
                if roles < ALL_ROLES {
                    add("403", "The caller's role may not do this");
                }
            }
            if has_body {
                add(
                    "400",
                    "The body is not valid (each field at fault in `errors`)",
                );
                add("413", "The body is too large");
                add(
                    "415",
                    "The body is not in a media type this operation reads",
                );
            }
        }
    }
}

/// Adds `anyOf` to a request schema: at least one of `fields`, non-null unless the type
/// is empty (a member where null itself is a change, like `assignee: null`).
fn require_any_change(doc: &mut serde_json::Value, schema: &str, fields: &[(&str, &str)]) {
    let alternatives: Vec<serde_json::Value> = fields
        .iter()
        .map(|(name, kind)| {
            let mut alternative = serde_json::json!({ "required": [name] });
            if !kind.is_empty() {
                alternative["properties"] = serde_json::json!({ *name: { "type": kind } });
            }
            alternative
        })
        .collect();
    if let Some(schema) = doc
        .pointer_mut(&format!("/components/schemas/{schema}"))
        .and_then(|s| s.as_object_mut())
    {
        schema.insert("anyOf".into(), alternatives.into());
    }
}

/// utoipa 5.5 serialises Link objects with Rust field names (`operation_id`,
/// `request_body`); OpenAPI spells them `operationId` and `requestBody`, and tools that
/// follow links (schemathesis' stateful phase) need the spec's names.
fn fix_link_keys(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(|link| link.as_object_mut());
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(from) {
                link.insert(to.into(), value);
            }
        }
    }
}
