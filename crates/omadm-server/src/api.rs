//! The REST API (JSON, bearer-token authentication) for operators: devices, credentials, groups,
//! jobs, events, notifications, bootstrap documents and the server's own counters. Its OpenAPI document is served at
//! [`OPENAPI_PATH`] and a readable page at [`DOCS_PATH`], both without authentication.

use crate::http::{now_ms, App};
use crate::model::{AccountAuth, AuthKind, Device, JobCommand};
use crate::store::{DeviceQuery, StoreError};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use omadm_security::{
    GeneralNotification, Initiator, Notification, Notification13, NotificationKey, SessionId, UiMode,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where the API documentation page is served.
pub const DOCS_PATH: &str = "/api/docs";

/// The API routes, all but the documentation behind the bearer token.
pub fn routes(app: Arc<App>) -> Router<Arc<App>> {
    let protected = Router::new()
        .route("/api/devices", get(list_devices).post(create_device))
        .route("/api/devices/bulk", post(create_devices))
        .route("/api/devices/{dev_id}", get(show_device).delete(delete_device))
        .route("/api/devices/{dev_id}/tree", get(device_tree))
        .route("/api/devices/{dev_id}/credentials", get(show_credentials).put(update_credentials))
        .route("/api/devices/{dev_id}/notification", post(notification))
        .route("/api/devices/{dev_id}/bootstrap", get(bootstrap))
        .route("/api/groups", get(list_groups))
        .route("/api/groups/{name}", get(show_group).post(add_members))
        .route("/api/jobs", get(list_jobs).post(create_jobs))
        .route("/api/jobs/{id}", get(show_job))
        .route("/api/events", get(list_events))
        .route("/api/stats", get(stats))
        .route_layer(middleware::from_fn(refuse_nul_in_uri))
        .route_layer(middleware::from_fn_with_state(app, require_token));
    Router::new().route(OPENAPI_PATH, get(openapi)).route(DOCS_PATH, get(docs)).merge(protected)
}

/// An API error: an HTTP status and a message, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::Conflict(what) => ApiError(StatusCode::CONFLICT, format!("already exists: {what}")),
            other => {
                tracing::error!(error = %other, "storage failed");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable".into())
            }
        }
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// Refuses request texts (field name, value when given) holding a NUL: no record holds one
/// (PostgreSQL text cannot, and SQLite's `LIKE` reads a pattern only up to it), so both backends
/// answer alike (`docs/dm13-decisions.md`).
fn no_nul<'a>(texts: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> ApiResult<()> {
    match texts.into_iter().find(|(_, text)| text.is_some_and(|t| t.contains('\0'))) {
        Some((field, _)) => Err(bad_request(format!("`{field}` holds a NUL character, which no record can hold"))),
        None => Ok(()),
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no such {what}"))
}

type ApiResult<T> = Result<T, ApiError>;

async fn require_token(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let ok = given.is_some_and(|t| {
        t.len() == app.api_token.len()
            && t.bytes().zip(app.api_token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if !ok {
        let mut response = ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()).into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// Refuses a request whose path or query holds a NUL (`%00`, the only way a URI carries one):
/// it names no record ([`no_nul`]), whatever the parameter (DevId, group, search).
async fn refuse_nul_in_uri(request: Request, next: Next) -> Response {
    if request.uri().path_and_query().is_some_and(|p| p.as_str().contains("%00")) {
        return bad_request("a NUL character (%00) in the path or query names no record").into_response();
    }
    next.run(request).await
}

/// A device as the API shows it: secrets are never returned.
#[derive(Debug, Serialize)]
struct DeviceView {
    dev_id: String,
    server_id: String,
    client_auth: AuthKind,
    client_user: String,
    server_auth: AuthKind,
    server_user: String,
    server_secret_set: bool,
    devinfo: std::collections::BTreeMap<String, String>,
    created_ms: i64,
    last_session_ms: Option<i64>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> DeviceView {
        DeviceView {
            dev_id: d.dev_id,
            server_id: d.server_id,
            client_auth: d.client.kind,
            client_user: d.client.user,
            server_auth: d.server.kind,
            server_user: d.server.user,
            server_secret_set: !d.server.secret.is_empty(),
            devinfo: d.devinfo,
            created_ms: d.created_ms,
            last_session_ms: d.last_session_ms,
        }
    }
}

/// A device to provision. Defaults: ServerID of the server, client auth md5, client user = DevId,
/// server user = ServerID; a missing client secret is generated and returned once.
#[derive(Debug, Deserialize)]
struct DeviceSpec {
    dev_id: String,
    server_id: Option<String>,
    client_auth: Option<AuthKind>,
    client_user: Option<String>,
    client_secret: Option<String>,
    server_auth: Option<AuthKind>,
    server_user: Option<String>,
    server_secret: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

fn new_nonce() -> String {
    omadm_security::nonce::generate().map(|n| n.to_next_nonce()).unwrap_or_default()
}

fn device_from_spec(app: &App, spec: &DeviceSpec) -> ApiResult<(Device, bool)> {
    no_nul([
        ("dev_id", Some(spec.dev_id.as_str())),
        ("server_id", spec.server_id.as_deref()),
        ("client_user", spec.client_user.as_deref()),
        ("client_secret", spec.client_secret.as_deref()),
        ("server_user", spec.server_user.as_deref()),
        ("server_secret", spec.server_secret.as_deref()),
    ])?;
    no_nul(spec.groups.iter().map(|g| ("groups", Some(g.as_str()))))?;
    let dev_id = spec.dev_id.trim();
    if dev_id.is_empty() || dev_id.len() > 256 {
        return Err(bad_request("dev_id must be 1 to 256 characters"));
    }
    let server_id = spec.server_id.clone().unwrap_or_else(|| app.engine.config().server_id.clone());
    let generated = spec.client_secret.is_none();
    let client_secret = spec.client_secret.clone().unwrap_or_else(crate::http::random_token);
    Ok((
        Device {
            dev_id: dev_id.to_string(),
            client: AccountAuth {
                kind: spec.client_auth.unwrap_or_default(),
                user: spec.client_user.clone().unwrap_or_else(|| dev_id.to_string()),
                secret: client_secret,
                nonce: new_nonce(),
                spent: Vec::new(),
            },
            server: AccountAuth {
                kind: spec.server_auth.unwrap_or_default(),
                user: spec.server_user.clone().unwrap_or_else(|| server_id.clone()),
                secret: spec.server_secret.clone().unwrap_or_default(),
                nonce: new_nonce(),
                spent: Vec::new(),
            },
            server_id,
            devinfo: Default::default(),
            created_ms: now_ms(),
            last_session_ms: None,
        },
        generated,
    ))
}

async fn create_device(State(app): State<Arc<App>>, Json(spec): Json<DeviceSpec>) -> ApiResult<Response> {
    let (device, generated) = device_from_spec(&app, &spec)?;
    app.store.insert_devices(std::slice::from_ref(&device)).await?;
    for group in &spec.groups {
        app.store.add_to_group(group, std::slice::from_ref(&device.dev_id)).await?;
    }
    let secret = generated.then(|| device.client.secret.clone());
    let mut body = serde_json::to_value(DeviceView::from(device)).expect("view serializes");
    if let Some(secret) = secret {
        body["client_secret"] = Value::String(secret);
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Bulk provisioning: many devices in one transaction (all or none).
async fn create_devices(State(app): State<Arc<App>>, Json(specs): Json<Vec<DeviceSpec>>) -> ApiResult<Response> {
    if specs.iter().any(|s| s.client_secret.is_none()) {
        return Err(bad_request("bulk provisioning needs a client_secret for every device"));
    }
    let devices = specs.iter().map(|s| device_from_spec(&app, s).map(|(d, _)| d)).collect::<ApiResult<Vec<_>>>()?;
    app.store.insert_devices(&devices).await?;
    // One membership write per group, not per device: a 1,000-device request naming one group
    // is one transaction instead of 1,000.
    let mut members: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
    for (spec, device) in specs.iter().zip(&devices) {
        for group in &spec.groups {
            members.entry(group.as_str()).or_default().push(device.dev_id.clone());
        }
    }
    for (group, dev_ids) in &members {
        app.store.add_to_group(group, dev_ids).await?;
    }
    Ok((StatusCode::CREATED, Json(json!({ "created": devices.len() }))).into_response())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    search: Option<String>,
    group: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    dev_id: Option<String>,
}

async fn list_devices(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let query = DeviceQuery { search: q.search, group: q.group, limit: q.limit, offset: q.offset };
    let devices: Vec<DeviceView> = app.store.devices(&query).await?.into_iter().map(DeviceView::from).collect();
    Ok(Json(json!({ "devices": devices })))
}

async fn load_device(app: &App, dev_id: &str) -> ApiResult<Device> {
    app.store.device(dev_id).await?.ok_or_else(|| not_found("device"))
}

async fn show_device(State(app): State<Arc<App>>, Path(dev_id): Path<String>) -> ApiResult<Json<DeviceView>> {
    Ok(Json(load_device(&app, &dev_id).await?.into()))
}

async fn delete_device(State(app): State<Arc<App>>, Path(dev_id): Path<String>) -> ApiResult<StatusCode> {
    // After the device's message in flight, if any: it read the device before the delete, and
    // its changes (tree values, events, its session) stored after it would outlive the device.
    let _device_turn = app.device_locks.of(&dev_id).lock().await;
    if app.store.delete_device(&dev_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("device"))
    }
}

async fn device_tree(State(app): State<Arc<App>>, Path(dev_id): Path<String>) -> ApiResult<Json<Value>> {
    load_device(&app, &dev_id).await?;
    Ok(Json(json!({ "dev_id": dev_id, "nodes": app.store.tree(&dev_id).await? })))
}

fn credentials_view(d: &Device) -> Value {
    json!({
        "dev_id": d.dev_id,
        "server_id": d.server_id,
        "client": { "auth": d.client.kind, "user": d.client.user, "secret_set": !d.client.secret.is_empty() },
        "server": { "auth": d.server.kind, "user": d.server.user, "secret_set": !d.server.secret.is_empty() },
    })
}

async fn show_credentials(State(app): State<Arc<App>>, Path(dev_id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(credentials_view(&load_device(&app, &dev_id).await?)))
}

#[derive(Debug, Deserialize)]
struct CredentialsUpdate {
    server_id: Option<String>,
    client_auth: Option<AuthKind>,
    client_user: Option<String>,
    client_secret: Option<String>,
    server_auth: Option<AuthKind>,
    server_user: Option<String>,
    server_secret: Option<String>,
}

async fn update_credentials(
    State(app): State<Arc<App>>,
    Path(dev_id): Path<String>,
    Json(u): Json<CredentialsUpdate>,
) -> ApiResult<Json<Value>> {
    no_nul([
        ("server_id", u.server_id.as_deref()),
        ("client_user", u.client_user.as_deref()),
        ("client_secret", u.client_secret.as_deref()),
        ("server_user", u.server_user.as_deref()),
        ("server_secret", u.server_secret.as_deref()),
    ])?;
    // The device's DM messages wait meanwhile: the whole record is written back, and a message
    // stored between the read and the write (its nonces) would otherwise be undone.
    let _device_turn = app.device_locks.of(&dev_id).lock().await;
    let mut d = load_device(&app, &dev_id).await?;
    if let Some(v) = u.server_id {
        d.server_id = v;
    }
    if let Some(v) = u.client_auth {
        d.client.kind = v;
    }
    if let Some(v) = u.client_user {
        d.client.user = v;
    }
    if let Some(v) = u.client_secret {
        d.client.secret = v;
    }
    if let Some(v) = u.server_auth {
        d.server.kind = v;
    }
    if let Some(v) = u.server_user {
        d.server.user = v;
    }
    if let Some(v) = u.server_secret {
        d.server.secret = v;
    }
    app.store.update_device(&d).await?;
    Ok(Json(credentials_view(&d)))
}

#[derive(Debug, Deserialize)]
struct NotificationRequest {
    /// `1.2` (default) or `1.3`.
    version: Option<String>,
    /// `not-specified`, `background` (default), `informative`, `user-interaction`.
    ui_mode: Option<String>,
    /// `server` (default) or `user`.
    initiator: Option<String>,
    /// 1..=65535; random when absent.
    session_id: Option<u16>,
}

/// Builds the Package #0 for a device with its server credentials (DM Notification 1.2 §6).
async fn notification(
    State(app): State<Arc<App>>,
    Path(dev_id): Path<String>,
    Json(r): Json<NotificationRequest>,
) -> ApiResult<Json<Value>> {
    let d = load_device(&app, &dev_id).await?;
    let ui_mode = match r.ui_mode.as_deref().unwrap_or("background") {
        "not-specified" => UiMode::NotSpecified,
        "background" => UiMode::Background,
        "informative" => UiMode::Informative,
        "user-interaction" => UiMode::UserInteraction,
        other => return Err(bad_request(format!("unknown ui_mode `{other}`"))),
    };
    let initiator = match r.initiator.as_deref().unwrap_or("server") {
        "server" => Initiator::Server,
        "user" => Initiator::User,
        other => return Err(bad_request(format!("unknown initiator `{other}`"))),
    };
    let session = SessionId(r.session_id.unwrap_or_else(|| {
        let mut b = [0u8; 2];
        getrandom::fill(&mut b).expect("the OS random number generator works");
        u16::from_be_bytes(b).max(1)
    }));
    let notification = match r.version.as_deref().unwrap_or("1.2") {
        "1.2" => Notification::Dm12(GeneralNotification::new(d.server_id.clone(), session, ui_mode, initiator)),
        "1.3" => Notification::Dm13(Notification13::new(d.server_id.clone(), session, ui_mode, initiator)),
        other => return Err(bad_request(format!("unknown notification version `{other}` (1.2 or 1.3)"))),
    };
    let key = NotificationKey::md5(d.server.user.clone(), d.server.secret.as_str(), d.server.current_nonce());
    let bytes = notification.build(&key).map_err(|e| bad_request(e.to_string()))?;
    Ok(Json(json!({
        "dev_id": d.dev_id,
        "session_id": format!("{:X}", session.0),
        "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
    })))
}

#[derive(Debug, Deserialize)]
struct BootstrapQuery {
    /// `plain` (TNDS, default) or `wap`.
    profile: Option<String>,
    /// For `wap`: `xml` (default) or `wbxml` (the form pushed to devices).
    encoding: Option<String>,
}

async fn bootstrap(
    State(app): State<Arc<App>>,
    Path(dev_id): Path<String>,
    Query(q): Query<BootstrapQuery>,
) -> ApiResult<Response> {
    let d = load_device(&app, &dev_id).await?;
    let url = &app.engine.config().dm_url;
    match q.profile.as_deref().unwrap_or("plain") {
        "plain" => {
            let doc = crate::bootstrap::tnds(&d, url);
            let options = omadm_proto::xml::XmlOptions::pretty();
            let body = omadm_proto::xml::write_element(&doc, &options);
            Ok(([(header::CONTENT_TYPE, "application/vnd.syncml.dmtnds+xml")], body).into_response())
        }
        "wap" => {
            use omadm_security::provisioning::{MEDIA_TYPE_WBXML, MEDIA_TYPE_XML};
            let doc = crate::bootstrap::wap_provisioning(&d, url);
            match q.encoding.as_deref().unwrap_or("xml") {
                "xml" => Ok(([(header::CONTENT_TYPE, MEDIA_TYPE_XML)], doc.to_xml()).into_response()),
                "wbxml" => Ok(([(header::CONTENT_TYPE, MEDIA_TYPE_WBXML)], doc.to_wbxml()).into_response()),
                other => Err(bad_request(format!("unknown encoding `{other}` (xml or wbxml)"))),
            }
        }
        other => Err(bad_request(format!("unknown profile `{other}` (plain or wap)"))),
    }
}

async fn list_groups(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let groups: Vec<Value> =
        app.store.groups().await?.into_iter().map(|(name, n)| json!({ "name": name, "members": n })).collect();
    Ok(Json(json!({ "groups": groups })))
}

async fn show_group(State(app): State<Arc<App>>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let members = app.store.group_members(&name).await?;
    if members.is_empty() {
        return Err(not_found("group"));
    }
    Ok(Json(json!({ "name": name, "members": members })))
}

#[derive(Debug, Deserialize)]
struct Members {
    dev_ids: Vec<String>,
}

async fn add_members(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Json(m): Json<Members>,
) -> ApiResult<Json<Value>> {
    no_nul(m.dev_ids.iter().map(|d| ("dev_ids", Some(d.as_str()))))?;
    for dev_id in &m.dev_ids {
        load_device(&app, dev_id).await?;
    }
    app.store.add_to_group(&name, &m.dev_ids).await?;
    Ok(Json(json!({ "name": name, "members": app.store.group_members(&name).await? })))
}

#[derive(Debug, Deserialize)]
struct JobRequest {
    dev_id: Option<String>,
    group: Option<String>,
    commands: Vec<JobCommand>,
}

/// Creates a job for a device, or one per member of a group.
async fn create_jobs(State(app): State<Arc<App>>, Json(r): Json<JobRequest>) -> ApiResult<Response> {
    if r.commands.is_empty() || r.commands.len() > crate::model::MAX_JOB_COMMANDS {
        return Err(bad_request(format!("a job needs 1 to {} commands", crate::model::MAX_JOB_COMMANDS)));
    }
    no_nul([("dev_id", r.dev_id.as_deref()), ("group", r.group.as_deref())])?;
    let mut commands = r.commands;
    for c in &mut commands {
        c.validate().map_err(bad_request)?;
        clear_outcome(c);
    }
    let targets = match (r.dev_id, r.group) {
        (Some(dev_id), None) => {
            load_device(&app, &dev_id).await?;
            vec![dev_id]
        }
        (None, Some(group)) => {
            let members = app.store.group_members(&group).await?;
            if members.is_empty() {
                return Err(not_found("group"));
            }
            members
        }
        _ => return Err(bad_request("give exactly one of dev_id and group")),
    };
    let jobs = app.store.create_jobs(&targets, &commands, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(JobsCreated { jobs })).into_response())
}

/// The answer to a job request, serialized straight from the jobs: a JSON value tree of a
/// 100,000-device group job held about half a gigabyte for the moment of the answer.
#[derive(Serialize)]
struct JobsCreated {
    jobs: Vec<crate::model::Job>,
}

fn clear_outcome(c: &mut JobCommand) {
    c.status = None;
    c.results.clear();
    c.reply.clear();
    c.commands.iter_mut().for_each(clear_outcome);
}

async fn list_jobs(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let jobs = app.store.jobs(q.dev_id.as_deref(), q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "jobs": jobs })))
}

async fn show_job(State(app): State<Arc<App>>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let job = app.store.job(id).await?.ok_or_else(|| not_found("job"))?;
    Ok(Json(serde_json::to_value(job).expect("job serializes")))
}

async fn list_events(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let events = app.store.events(q.dev_id.as_deref(), q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "events": events })))
}

/// The server's counters since start and its CPU time and memory ([`crate::metrics`]).
async fn stats(State(app): State<Arc<App>>) -> Json<crate::metrics::Stats> {
    Json(app.metrics.snapshot())
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

async fn docs() -> Html<String> {
    let doc = openapi_document();
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{path}</code></td><td>{}</td></tr>\n",
                    method.to_uppercase(),
                    op["summary"].as_str().unwrap_or("")
                ));
            }
        }
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>omadm API</title></head><body>\
         <h1>omadm server API</h1><p>JSON over HTTP; send <code>Authorization: Bearer &lt;token&gt;</code>. \
         The machine-readable description is <a href=\"{OPENAPI_PATH}\">{OPENAPI_PATH}</a>.</p>\
         <table border=\"1\" cellpadding=\"4\"><tr><th>method</th><th>path</th><th>what</th></tr>\n{rows}</table></body></html>"
    ))
}

/// The OpenAPI 3.0 description of this API.
pub fn openapi_document() -> Value {
    let op = |summary: &str| {
        json!({ "summary": summary, "security": [{ "bearer": [] }], "responses": {
        "200": { "description": "OK" }, "401": { "description": "missing or wrong bearer token" } } })
    };
    let id = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "omadm server API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Device registry, jobs and events of an OMA DM 1.2/1.3 server." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "DeviceSpec": { "type": "object", "required": ["dev_id"], "properties": {
                    "dev_id": { "type": "string" }, "server_id": { "type": "string" },
                    "client_auth": { "enum": ["basic", "md5", "hmac", "sha256"] }, "client_user": { "type": "string" },
                    "client_secret": { "type": "string" }, "server_auth": { "enum": ["basic", "md5", "hmac", "sha256"] },
                    "server_user": { "type": "string" }, "server_secret": { "type": "string" },
                    "groups": { "type": "array", "items": { "type": "string" } } } },
                "JobCommand": { "type": "object", "required": ["op"], "properties": {
                    "op": { "enum": ["get", "replace", "add", "delete", "exec", "copy", "atomic", "sequence", "alert"] },
                    "target": { "type": "string" }, "source": { "type": "string" }, "data": { "type": "string" },
                    "format": { "type": "string" }, "media_type": { "type": "string" },
                    "alert": { "type": "object", "properties": { "code": { "type": "integer" }, "text": { "type": "string" },
                        "options": { "type": "string" }, "choices": { "type": "array", "items": { "type": "string" } } } },
                    "commands": { "type": "array", "items": { "$ref": "#/components/schemas/JobCommand" } },
                    "status": { "type": "integer", "readOnly": true },
                    "results": { "type": "array", "readOnly": true, "items": { "type": "object" } },
                    "reply": { "type": "array", "readOnly": true, "items": { "type": "string" } } } },
                "JobRequest": { "type": "object", "required": ["commands"], "properties": {
                    "dev_id": { "type": "string" }, "group": { "type": "string" },
                    "commands": { "type": "array", "items": { "$ref": "#/components/schemas/JobCommand" } } } }
            }
        },
        "paths": {
            "/api/devices": {
                "get": op("List devices (query: search, group, limit, offset)"),
                "post": { "summary": "Provision a device", "security": [{ "bearer": [] }],
                    "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/DeviceSpec" } } } },
                    "responses": { "201": { "description": "created" }, "409": { "description": "exists" } } }
            },
            "/api/devices/bulk": { "post": op("Provision many devices at once (array of DeviceSpec, all or none)") },
            "/api/devices/{dev_id}": { "parameters": [id("dev_id")], "get": op("Device detail"), "delete": op("Delete a device") },
            "/api/devices/{dev_id}/tree": { "parameters": [id("dev_id")], "get": op("Tree values learnt from the device") },
            "/api/devices/{dev_id}/credentials": { "parameters": [id("dev_id")],
                "get": op("Credentials (secrets are never shown)"), "put": op("Change credentials or ServerID") },
            "/api/devices/{dev_id}/notification": { "parameters": [id("dev_id")],
                "post": op("Build the Package #0 notification (version 1.2|1.3, ui_mode, initiator, session_id)") },
            "/api/devices/{dev_id}/bootstrap": { "parameters": [id("dev_id")],
                "get": op("Bootstrap document: profile=plain (TNDS) or wap (provisioning document; encoding=xml or wbxml)") },
            "/api/groups": { "get": op("List groups") },
            "/api/groups/{name}": { "parameters": [id("name")], "get": op("Group members"), "post": op("Add members ({dev_ids})") },
            "/api/jobs": {
                "get": op("List jobs (query: dev_id, limit)"),
                "post": { "summary": "Queue a job for a device or a group", "security": [{ "bearer": [] }],
                    "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/JobRequest" } } } },
                    "responses": { "201": { "description": "created" } } }
            },
            "/api/jobs/{id}": { "parameters": [id("id")], "get": op("Job status, per-command status codes and results") },
            "/api/events": { "get": op("Generic alerts and client events (query: dev_id, limit)") },
            "/api/stats": { "get": op("Counters since start (DM messages; sessions started, completed, aborted, \
                expired, open; HTTP errors by kind) and the process's CPU time and resident memory (Linux)") }
        }
    })
}
