//! The web pages of gongji (issue 9): the insured person's pages (accounts, statement and a
//! chart of the year, the family network, HIS↔MUT moves, the preset, "why can't my family use
//! this money"; the relative transfer and the bindings where the area has those models) and the
//! counter's pages (find a person by ID number, network business on the
//! person's behalf, batch jobs with progress, batch queries with CSV), in Chinese, served by
//! `gongji serve` under `/web`.
//!
//! Invariants:
//! - No business rule lives here. Every page reads and every form acts by calling the JSON
//!   API's own handlers ([`crate::routes`]) with the caller's credentials, so the
//!   engine's rules and the API's role checks (§12, N7–N11) are the ones that apply, and a
//!   refusal is the API's problem (code, rule, detail) shown with plain Chinese words
//!   ([`messages`]). The pages only parse what was typed into the API's request shapes and lay
//!   out the answers; the chart is drawing, not accounting.
//! - The bearer token is kept in an HttpOnly, SameSite=Strict cookie scoped to `/web`, never in a
//!   URL, a page or a log; JavaScript never sees it. Forms that change something are POSTs,
//!   refused when the browser says they come from another site (`Sec-Fetch-Site`, `Origin`).
//! - Nothing that changes money happens without a confirmation step: the first POST of a move,
//!   a preset, a relative transfer or a batch job renders a page that shows the amount and the accounts; only the
//!   second POST (`confirmed=yes`) calls the API. Removing, leaving and dissolving confirm too.
//! - A refused form is shown again with what was typed and the refusal above it.
//! - Pages work without JavaScript; `static/app.js` only prevents double submits and polls a
//!   running job's progress.

mod chart;
mod counter;
mod family;
mod layout;
mod messages;
mod person;

use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use gongji_core::AreaCode;
use gongji_store::Store;
use maud::{html, Markup};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use self::layout::{notice, refusal, Page};
use crate::auth::{self, Caller, Credentials, Role, TokenSpec};
use crate::demo;
use crate::problem::ApiError;
use crate::routes::RouteTable;
use crate::state::AppState;

/// The cookie that holds the bearer token (HttpOnly, SameSite=Strict, Path=/web).
pub const SESSION_COOKIE: &str = "gongji_session";
/// Tokens issued by the demo sign-in are named so, and revoked on sign-out.
const DEMO_TOKEN_PREFIX: &str = "web-demo-";

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

/// Every page and form of the web module, registered like the API's routes
/// ([`RouteTable`]) and served beside them by [`crate::app`]; not part of the OpenAPI document.
pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/", root)
        .add(Method::GET, "/web", home::<S>)
        .add(Method::GET, "/web/", home::<S>)
        .add(Method::GET, "/web/static/app.css", css)
        .add(Method::GET, "/web/static/app.js", js)
        .add(Method::GET, "/web/sign-in", sign_in_page::<S>)
        .add(Method::POST, "/web/sign-in", sign_in::<S>)
        .add(Method::POST, "/web/demo-sign-in", demo_sign_in::<S>)
        .add(Method::POST, "/web/sign-out", sign_out::<S>)
        .merge(person::routes::<S>())
        .merge(family::routes::<S>())
        .merge(counter::routes::<S>())
        .wrap(|pages| pages.layer(middleware::from_fn(guard)))
}

/// Who looks at a page: what the navigation and the counter banner need.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub role: Role,
    pub name: String,
    pub person: Option<String>,
    pub area: Option<String>,
}

impl Viewer {
    fn of(caller: &Caller) -> Viewer {
        Viewer {
            role: caller.role(),
            name: caller.spec.name.clone(),
            person: caller.spec.person.clone(),
            area: caller.spec.area.as_ref().map(|a| a.as_str().to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self.role {
            Role::Insured => format!("参保人 {}", self.person.as_deref().unwrap_or("")),
            Role::Operator => format!("操作员 {} · {}", self.name, self.area.as_deref().unwrap_or("")),
            Role::Admin => format!("管理员 {}", self.name),
            Role::Institution => format!("医药机构 {}", self.name),
        }
    }

    pub fn at_counter(&self) -> bool {
        matches!(self.role, Role::Operator | Role::Admin)
    }

    /// A refusal shown on a page with this viewer's navigation.
    pub fn refused(&self, err: ApiError) -> WebError {
        if err.status == StatusCode::UNAUTHORIZED {
            return WebError::SignIn;
        }
        WebError::Refused { err, viewer: Some(self.clone()) }
    }
}

/// The session cookie as API credentials (channel `web` for insured persons, P6).
#[derive(Debug, Clone)]
pub struct Session {
    token: Option<String>,
}

impl Session {
    pub fn credentials(&self) -> Credentials {
        Credentials { token: self.token.clone(), channel: Some("web".into()) }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Session, Self::Rejection> {
        Ok(Session { token: cookie(&parts.headers, SESSION_COOKIE) })
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// Authenticates the session (the same lookup as every API request) and returns who it is.
pub async fn viewer<S: Store + 'static>(state: &AppState<S>, session: &Session) -> Result<Viewer, WebError> {
    state.call(session.credentials(), |_, caller, _| Ok(Viewer::of(caller))).await.map_err(WebError::from)
}

/// Why a page could not be shown: the session is not signed in (go to the sign-in page), or
/// the API refused (a page with the refusal).
pub enum WebError {
    SignIn,
    Refused { err: ApiError, viewer: Option<Viewer> },
}

impl From<ApiError> for WebError {
    fn from(err: ApiError) -> WebError {
        if err.status == StatusCode::UNAUTHORIZED {
            WebError::SignIn
        } else {
            WebError::Refused { err, viewer: None }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn => {
                let mut response = see_other("/web/sign-in");
                response.headers_mut().append(header::SET_COOKIE, clear_cookie());
                response
            }
            WebError::Refused { err, viewer } => {
                err.log();
                let home = match viewer.as_ref().map(|v| v.role) {
                    Some(Role::Insured) => format!("/web/persons/{}", viewer.as_ref().and_then(|v| v.person.clone()).unwrap_or_default()),
                    Some(_) => "/web/counter".to_string(),
                    None => "/web".to_string(),
                };
                let body = html! {
                    h1 { "没有办成" }
                    (refusal(&err))
                    p { a href=(home) { "返回首页" } }
                };
                html_page(err.status, Page { title: "没有办成", viewer: viewer.as_ref(), head: None, body }.render())
            }
        }
    }
}

pub type WebResult = Result<Response, WebError>;

/// A form body (`application/x-www-form-urlencoded`); a malformed one is an `input.invalid`
/// refusal page.
pub struct WebForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for WebForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<WebForm<T>, WebError> {
        Form::<T>::from_request(request, state)
            .await
            .map(|Form(value)| WebForm(value))
            .map_err(|rejection| WebError::from(ApiError::input(format!("the form could not be read: {}", rejection.body_text()))))
    }
}

/// A query string; a malformed one is an `input.invalid` refusal page.
pub struct WebQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for WebQuery<T> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<WebQuery<T>, WebError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| WebQuery(value))
            .map_err(|rejection| WebError::from(ApiError::input(format!("invalid query string: {}", rejection.body_text()))))
    }
}

pub fn html_page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/web; HttpOnly; SameSite=Strict{secure}")).unwrap_or_else(|_| clear_cookie())
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("gongji_session=; Path=/web; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The short notices shown after an action, by key (`?ok=moved`); fixed texts, so a link cannot
/// make a page say anything else.
pub fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "moved" => "划转成功，余额已更新。",
        "preset-set" => "预设金额已保存，每年到预设日划入共济账户。",
        "preset-cleared" => "已取消每年预设划入。",
        "created" => "家庭共济网已组建，您是发起人，支付顺序排第一（N6）。",
        "invited-pending" => "已添加，等待对方本人确认（年满 16 周岁的成员须本人确认，N10）；确认前不共享资金。",
        "invited-active" => "已添加为成员（未满 16 周岁的子女由发起人直接添加，N10）。",
        "confirmed" => "已确认加入家庭共济网。",
        "reordered" => "支付顺序已调整。",
        "removed" => "已删除这位成员；他/她共济账户里的钱仍归本人所有（T3）。",
        "left" => "已退出家庭共济网；共济账户里的钱仍归您本人所有（T3）。",
        "dissolved" => "家庭共济网已撤销，所有成员视同退出（N7）。",
        "signed-out" => "已退出登录。",
        "transferred" => "亲属划转成功，钱已进入对方的历年账户（TR2）。",
        "bound" => "已关联；对方就医时可以使用您账户中超过保留额的部分（S2）。",
        "unbound" => "已解除关联。",
        _ => return None,
    })
}

/// Security headers on every page, and the cross-site check on every POST.
async fn guard(request: Request, next: Next) -> Response {
    if request.method() == Method::POST && !same_origin(request.headers()) {
        let err = ApiError::forbidden("§12", "a form of these pages must come from these pages (cross-site request refused)");
        return WebError::from(err).into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on these pages' own forms.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A POST comes from these pages: the browser's `Sec-Fetch-Site` says same-origin (or a typed
/// URL), and `Origin`, when sent, names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match (text("origin"), text("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin == format!("http://{host}") || origin == format!("https://{host}"),
        (Some(_), None) => false,
    }
}

fn behind_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

async fn root() -> Response {
    see_other("/web")
}

async fn css() -> Response {
    static_asset(APP_CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    static_asset(APP_JS, "text/javascript; charset=utf-8")
}

fn static_asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn home_of(viewer: &Viewer) -> String {
    match viewer.role {
        Role::Insured => format!("/web/persons/{}", viewer.person.as_deref().unwrap_or("")),
        _ => "/web/counter".to_string(),
    }
}

async fn home<S: Store + 'static>(State(state): State<AppState<S>>, session: Session) -> Response {
    if session.token.is_none() {
        return see_other("/web/sign-in");
    }
    match viewer(&state, &session).await {
        Ok(viewer) if viewer.role != Role::Institution => see_other(&home_of(&viewer)),
        Ok(_) => see_other("/web/sign-in"),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
struct SignInQuery {
    ok: Option<String>,
}

async fn sign_in_page<S: Store + 'static>(State(state): State<AppState<S>>, WebQuery(query): WebQuery<SignInQuery>) -> WebResult {
    let body = sign_in_body(&state, None, notice_text(query.ok.as_deref())).await?;
    Ok(html_page(StatusCode::OK, body))
}

async fn sign_in_body<S: Store + 'static>(state: &AppState<S>, refused: Option<&ApiError>, done: Option<&str>) -> Result<Markup, WebError> {
    let demo_on = demo_sign_in_open(state).await?;
    let demo_people = if demo_on { demo_people(state).await? } else { Vec::new() };
    let body = html! {
        h1 { "登录 Sign in" }
        @if let Some(text) = done { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            form method="post" action="/web/sign-in" {
                label for="token" { "令牌 Token" }
                input #token type="password" name="token" autocomplete="off" required placeholder="gj_…" spellcheck="false";
                p.hint {
                    "参保人的令牌由经办机构发放（" code { "gongji token issue --role insured --person 个人编号" } "）；"
                    "柜台操作员用 " code { "--role operator --area 统筹区" } "。令牌只保存在本浏览器的 HttpOnly Cookie 里。"
                }
                button.primary type="submit" { "登录" }
            }
        }
        @if demo_on {
            section.card.demo #demo {
                h2 { "演示 Demo：点一下就登录" }
                p.hint { "服务以 --demo 启动，载入了 seeds/003 的四个家庭（统筹区 " (demo::DEMO_AREA) "，宁波）。演示登录无需令牌，仅供试用。" }
                form method="post" action="/web/demo-sign-in" {
                    input type="hidden" name="who" value="operator";
                    button type="submit" data-demo="operator" { "柜台操作员 · " (demo::DEMO_AREA) }
                }
                @for (story, people) in &demo_people {
                    div.family {
                        p.story { (story) }
                        div.people {
                            @for (psn_no, name, id_number) in people {
                                form method="post" action="/web/demo-sign-in" {
                                    input type="hidden" name="who" value=(psn_no);
                                    button type="submit" data-demo=(psn_no) data-id-number=(id_number) {
                                        (name) " · " (psn_no)
                                        small { "身份证 " (id_number) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Page { title: "登录", viewer: None, head: None, body }.render())
}

/// The one-click sign-in is open only when the server runs with `--demo` and the store is a
/// demo store: it carries the demo mark (`--demo` itself created it) and holds nobody the demo
/// did not create (issue 12 item 7). A store of real persons never hands out tokens without
/// one, whatever the configuration says, also when persons are imported while it runs.
async fn demo_sign_in_open<S: Store + 'static>(state: &AppState<S>) -> Result<bool, WebError> {
    if !state.config.demo {
        return Ok(false);
    }
    Ok(state.blocking(|engine, _| demo::is_demo_store(engine.store())).await??)
}

/// The demo persons that exist in the store, family by family: (story, [(psn_no, name, ID number)]).
async fn demo_people<S: Store + 'static>(state: &AppState<S>) -> Result<Vec<(&'static str, Vec<(String, String, String)>)>, WebError> {
    let families = demo::families();
    let found = state
        .blocking(move |engine, _| {
            let mut out = Vec::new();
            for (story, people) in families {
                let mut present = Vec::new();
                for (psn_no, _) in people {
                    if let Ok(person) = engine.person(psn_no) {
                        present.push((person.psn_no, person.name, person.id_number.as_str().to_string()));
                    }
                }
                out.push((story, present));
            }
            out
        })
        .await?;
    Ok(found)
}

#[derive(Deserialize)]
struct SignInForm {
    token: String,
}

async fn sign_in<S: Store + 'static>(State(state): State<AppState<S>>, headers: HeaderMap, WebForm(form): WebForm<SignInForm>) -> WebResult {
    let credentials = Credentials { token: Some(form.token.trim().to_string()), channel: Some("web".into()) };
    let checked = state
        .call(credentials, |_, caller, _| {
            if caller.role() == Role::Institution {
                return Err(ApiError::forbidden(
                    "§12",
                    "institutions use the JSON API or the HIS dialect; these pages are for insured persons and the counter",
                ));
            }
            Ok(Viewer::of(caller))
        })
        .await;
    match checked {
        Ok(viewer) => {
            let mut response = see_other(&home_of(&viewer));
            response.headers_mut().append(header::SET_COOKIE, session_cookie(form.token.trim(), behind_tls(&headers)));
            Ok(response)
        }
        Err(err) => {
            err.log();
            let status = err.status;
            // The token typed is not shown again: it is a secret.
            Ok(html_page(status, sign_in_body(&state, Some(&err), None).await?))
        }
    }
}

#[derive(Deserialize)]
struct DemoSignInForm {
    who: String,
}

async fn demo_sign_in<S: Store + 'static>(State(state): State<AppState<S>>, headers: HeaderMap, WebForm(form): WebForm<DemoSignInForm>) -> WebResult {
    if !demo_sign_in_open(&state).await? {
        return Err(ApiError::forbidden("§12", "the demo sign-in exists only on a store that serve --demo created, when the server runs with --demo").into());
    }
    let spec = if form.who == "operator" {
        TokenSpec {
            role: Role::Operator,
            area: Some(AreaCode::parse(demo::DEMO_AREA).map_err(ApiError::from)?),
            institution: None,
            person: None,
            name: format!("{DEMO_TOKEN_PREFIX}operator"),
        }
    } else if demo::families().iter().any(|(_, people)| people.iter().any(|(psn_no, _)| *psn_no == form.who)) {
        TokenSpec { role: Role::Insured, area: None, institution: None, person: Some(form.who.clone()), name: format!("{DEMO_TOKEN_PREFIX}{}", form.who) }
    } else {
        return Err(ApiError::input("not one of the demo persons").into());
    };
    let home = match spec.role {
        Role::Insured => format!("/web/persons/{}", form.who),
        _ => "/web/counter".to_string(),
    };
    let (_, token) = state.blocking(move |engine, _| auth::issue(engine.store(), &spec)).await??;
    let mut response = see_other(&home);
    response.headers_mut().append(header::SET_COOKIE, session_cookie(&token, behind_tls(&headers)));
    Ok(response)
}

async fn sign_out<S: Store + 'static>(State(state): State<AppState<S>>, session: Session) -> Response {
    if session.token.is_some() {
        // A token the demo sign-in issued is revoked; a token the agency issued stays valid
        // for its holder's other devices.
        let revoked = state
            .call(session.credentials(), |engine, caller, _| {
                if caller.spec.name.starts_with(DEMO_TOKEN_PREFIX) {
                    auth::revoke(engine.store(), caller.token_id)?;
                }
                Ok(())
            })
            .await;
        if let Err(err) = revoked {
            if err.status != StatusCode::UNAUTHORIZED {
                err.log();
            }
        }
    }
    let mut response = see_other("/web/sign-in?ok=signed-out");
    response.headers_mut().append(header::SET_COOKIE, clear_cookie());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; gongji_session=gj_abc; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("gj_abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("gongji_session="));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
        headers.remove("sec-fetch-site");
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let value = session_cookie("gj_x", false);
        let text = value.to_str().unwrap();
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Strict") && text.contains("Path=/web") && !text.contains("Secure"));
        assert!(session_cookie("gj_x", true).to_str().unwrap().ends_with("; Secure"));
    }
}
