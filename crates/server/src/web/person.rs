//! One person's pages: accounts with a statement and a chart of the year (Q1, Q2), the family
//! network (N1–N10), HIS↔MUT moves (T1), the preset (T2) and "why can't my family use this
//! money" (Q4). The insured person sees their own; an operator of the person's area (or an
//! admin) sees the same pages at the counter and acts on the person's behalf (N11), recorded
//! as the operator. Every read and every action is a call of the JSON API's handler.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use gongji_core::{AreaCode, Money};
use gongji_store::Store;
use maud::{html, Markup};
use serde::Deserialize;

use super::chart::{self, Series};
use super::layout::{confirm_form, notice, person_tabs, refusal, yuan, Page};
use super::messages::{account_zh, entry_kind_zh, insurance_zh, member_state_zh, relation_zh, status_zh, visit_zh, VISITS};
use super::{html_page, notice_text, see_other, viewer, Session, Viewer, WebError, WebForm, WebQuery, WebResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::routes::networks::{self, AddMemberRequest, CreateNetworkRequest, ReorderRequest};
use crate::routes::persons::{self, PersonView};
use crate::routes::queries::{self, StatementLineView, StatementQuery};
use crate::routes::settlement::{self, ExplainRequest, ExplainView, StepView};
use crate::routes::shared::{parse_date, split_account_name, FAMILY};
use crate::routes::transfers::{self, MoveRequest, PresetRequest};
use crate::routes::RouteTable;
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/web/persons/{psn_no}", overview::<S>)
        .add(Method::GET, "/web/persons/{psn_no}/network", network::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/create", create::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/invite", invite::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/confirm", confirm::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/order", reorder::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/remove", remove::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/leave", leave::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/dissolve", dissolve::<S>)
        .add(Method::GET, "/web/persons/{psn_no}/move", move_page::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/move", move_post::<S>)
        .add(Method::GET, "/web/persons/{psn_no}/preset", preset_page::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/preset", preset_post::<S>)
        .add(Method::GET, "/web/persons/{psn_no}/why", why::<S>)
}

/// What the policy of the person's area says the pages should offer (display only: the
/// engine decides again on every action).
struct AreaRules {
    policy: String,
    association_threshold: String,
    network: bool,
    relative_transfer: bool,
    association: bool,
    relations: Vec<(String, Option<u32>)>,
    preset_date: (u32, u32),
}

/// Everything a person page needs: who looks, whom it is about (Q1 through the API), the area's
/// policy and the business date.
pub(super) struct Ctx {
    pub(super) viewer: Viewer,
    person: PersonView,
    rules: Option<AreaRules>,
    today: NaiveDate,
}

pub(super) async fn load<S: Store + 'static>(state: &AppState<S>, session: &Session, psn_no: &str) -> Result<Ctx, WebError> {
    let viewer = viewer(state, session).await?;
    let person = persons::get_person(State(state.clone()), session.credentials(), ApiPath(psn_no.to_string())).await.map_err(|e| viewer.refused(e))?.0;
    let today = state.business_date();
    let rules = AreaCode::parse(&person.area).ok().and_then(|area| state.engine.policy(&area, today).ok()).map(|p| AreaRules {
        policy: p.id.clone(),
        association_threshold: p.association_threshold.to_string(),
        network: p.models.network,
        relative_transfer: p.models.relative_transfer,
        association: p.models.association,
        relations: p.relations.iter().map(|r| (r.name.clone(), r.max)).collect(),
        preset_date: p.preset_date,
    });
    Ok(Ctx { viewer, person, rules, today })
}

impl Ctx {
    pub(super) fn psn(&self) -> &str {
        &self.person.psn_no
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("/web/persons/{}{path}", self.person.psn_no)
    }

    pub(super) fn page(&self, tab: &str, title: &str, status: StatusCode, content: Markup) -> Response {
        let p = &self.person;
        let body = html! {
            @if self.viewer.at_counter() {
                div.counter-banner {
                    strong { "柜台代办 " }
                    (self.viewer.describe()) " 为 " (p.name) "（" (p.psn_no) "）办理。"
                    "家庭共济网业务在发起人参保地的经办窗口办理，本人持社会保障卡在场（N9、N11）；每笔业务都记录操作员编号（P6）。"
                    " " a href="/web/counter" { "换一位参保人" }
                }
            }
            header.person {
                h1 { (p.name) " " small { (p.psn_no) } }
                p.meta {
                    "身份证 " (p.id_number_masked) " · 统筹区 " (p.area) " · " (insurance_zh(&p.insurance)) " · 状态 "
                    span class={ "status " (p.status) } { (status_zh(&p.status)) }
                }
            }
            (person_tabs(&p.psn_no, tab, self.has(|r| r.network), self.has(|r| r.relative_transfer), self.has(|r| r.association)))
            (content)
        };
        html_page(status, Page { title, viewer: Some(&self.viewer), head: None, body }.render())
    }

    pub(super) fn balance(&self, kind: &str) -> &str {
        match kind {
            "cur" => &self.person.balances.cur,
            "his" => &self.person.balances.his,
            _ => &self.person.balances.mutual,
        }
    }

    /// Whether the area's policy has a model (display only).
    fn has(&self, model: impl Fn(&AreaRules) -> bool) -> bool {
        self.rules.as_ref().is_some_and(model)
    }

    /// The relations the area's policy lists (display only; the engine checks again).
    pub(super) fn relations(&self) -> Vec<String> {
        self.rules.as_ref().map(|r| r.relations.iter().map(|(name, _)| name.clone()).collect()).unwrap_or_default()
    }

    /// S2: the part of a binder's account kept back, when the area has the association model.
    pub(super) fn association_threshold(&self) -> Option<String> {
        self.rules.as_ref().filter(|r| r.association).map(|r| r.association_threshold.clone())
    }

    fn preset_day(&self) -> String {
        self.rules.as_ref().map(|r| format!("{}月{}日", r.preset_date.0, r.preset_date.1)).unwrap_or_else(|| "预设日".into())
    }

    /// A family member as shown: "本人" for this page's person.
    pub(super) fn who(&self, psn_no: &str) -> String {
        if psn_no == self.person.psn_no {
            format!("{psn_no}（本人）")
        } else {
            psn_no.to_string()
        }
    }
}

fn refused_status(refused: Option<&ApiError>) -> StatusCode {
    refused.map(|e| e.status).unwrap_or(StatusCode::OK)
}

fn fen(amount: &str) -> i64 {
    Money::parse(amount).map(Money::fen).unwrap_or(0)
}

// ---- accounts, statement, chart (Q1, Q2) ----

#[derive(Deserialize, Default)]
struct OverviewQuery {
    year: Option<i32>,
    account: Option<String>,
    from: Option<String>,
    to: Option<String>,
    ok: Option<String>,
}

/// The first day a statement is asked from: all of an account's history.
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(day) => day,
    None => panic!("a valid date"),
};

const SERIES: [(&str, &str, &str); 3] = [("cur", "当年账户 CUR", "#8a94a6"), ("his", "历年账户 HIS", "#1f6feb"), ("mut", "共济账户 MUT", "#e8590c")];

async fn lines_since<S: Store + 'static>(
    state: &AppState<S>,
    session: &Session,
    ctx: &Ctx,
    account: &str,
    from: NaiveDate,
) -> Result<Vec<StatementLineView>, WebError> {
    let query = StatementQuery { account: account.into(), from: from.to_string(), to: "9999-12-31".into() };
    let mut lines = queries::statement(State(state.clone()), session.credentials(), ApiPath(ctx.psn().to_string()), ApiQuery(query))
        .await
        .map_err(|e| ctx.viewer.refused(e))?
        .0
        .lines;
    lines.sort_by(|a, b| a.business_date.cmp(&b.business_date).then(a.entry_id.cmp(&b.entry_id)));
    Ok(lines)
}

fn day_of(line: &StatementLineView) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&line.business_date, "%Y-%m-%d").ok()
}

async fn overview<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(query): WebQuery<OverviewQuery>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    let year = query.year.filter(|y| (1900..=9998).contains(y)).unwrap_or(ctx.today.year());
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(ctx.today);
    let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(ctx.today);
    let account = match query.account.as_deref() {
        Some(kind @ ("cur" | "his" | "mut")) => kind.to_string(),
        _ => "his".to_string(),
    };

    // Every posting of the three accounts (Q2, through the API), oldest first. A balance on a
    // day is the current balance less what was posted from that day on.
    let mut history = Vec::new();
    for (kind, _, _) in SERIES {
        let lines: Vec<(NaiveDate, i64, StatementLineView)> =
            lines_since(&state, &session, &ctx, kind, EARLIEST).await?.into_iter().filter_map(|l| day_of(&l).map(|d| (d, fen(&l.amount), l))).collect();
        history.push((kind, lines));
    }
    let balance_before = |kind: &str, day: NaiveDate| -> i64 {
        let lines = history.iter().find(|(k, _)| *k == kind).map(|(_, l)| l.as_slice()).unwrap_or(&[]);
        fen(ctx.balance(kind)) - lines.iter().filter(|(d, _, _)| *d >= day).map(|(_, amount, _)| amount).sum::<i64>()
    };

    // The chart: each account from its balance on 1 January through the year's postings.
    let series: Vec<Series> = SERIES
        .iter()
        .zip(&history)
        .map(|((kind, label, colour), (_, lines))| Series {
            kind,
            label,
            colour,
            opening: balance_before(kind, first),
            changes: lines.iter().filter(|(d, _, _)| *d >= first && *d <= last).map(|(d, amount, _)| (*d, *amount)).collect(),
        })
        .collect();
    let quiet_year = series.iter().all(|s| s.changes.is_empty());
    let last_active = history.iter().flat_map(|(_, lines)| lines.iter().map(|(d, _, _)| *d)).filter(|d| *d < first).max();

    // The statement: the chosen account in the chosen range, with the balance after each line.
    let mut range_refused = None;
    let mut parse = |text: &Option<String>, what: &str, default: NaiveDate| match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => default,
        Some(t) => parse_date(t, what).unwrap_or_else(|err| {
            range_refused = Some(err);
            default
        }),
    };
    let from = parse(&query.from, "from", first);
    let to = parse(&query.to, "to", last);
    let mut balance = balance_before(&account, from);
    let mut rows = Vec::new();
    for (day, amount, line) in history.iter().find(|(k, _)| *k == account).map(|(_, l)| l.as_slice()).unwrap_or(&[]) {
        if *day >= from && *day <= to {
            balance += amount;
            rows.push((line, Money::from_fen(balance).to_string()));
        }
    }
    rows.reverse();
    let through = if year < ctx.today.year() { last } else { ctx.today };
    let chart = chart::year_chart(year, through, &series);
    let p = &ctx.person;
    let invited = p.network.as_ref().filter(|n| n.state == "pending" && n.role == "member");
    let content = html! {
        @if let Some(text) = notice_text(query.ok.as_deref()) { (notice(text)) }
        @if let Some(n) = invited {
            div.notice.invite {
                (n.promoter) " 邀请您以" (n.relation.as_deref().map(relation_zh).unwrap_or("家庭成员")) "身份加入家庭共济网，等待您确认。"
                a.button href=(ctx.url("/network")) { "去确认" }
            }
        }
        section.balances aria-label="余额" {
            @for (kind, label, _) in SERIES {
                div class={ "balance " (kind) } data-account=(kind) {
                    h3 { (label) }
                    p.amount { (ctx.balance(kind)) small { " 元" } }
                }
            }
        }
        @if ctx.has(|r| r.network) { section.summary {
            p {
                "家庭共济网："
                @match &p.network {
                    None => { "未加入 · " a href=(ctx.url("/network")) { "组建或加入" } }
                    Some(n) => {
                        @if n.role == "promoter" { "您是发起人" } @else { (n.promoter) " 的共济网成员（" (n.relation.as_deref().map(relation_zh).unwrap_or("")) "）" }
                        " · 支付顺序第 " (n.position) " 位 · " (member_state_zh(&n.state)) " · "
                        a href=(ctx.url("/network")) { "查看" }
                    }
                }
            }
            p {
                "每年 " (ctx.preset_day()) " 预设划入："
                @match &p.preset { Some(amount) => { (yuan(amount)) } None => { "未设置" } }
                " · " a href=(ctx.url("/preset")) { "设置" }
                " · " a href=(ctx.url("/move")) { "历年↔共济划转" }
            }
        } }
        section.year {
            div.heading {
                h2 { (year) " 年余额走势" }
                nav.years {
                    a href={ (ctx.url("")) "?year=" (year - 1) "&account=" (account) } { "‹ " (year - 1) }
                    @if year < ctx.today.year() { a href={ (ctx.url("")) "?year=" (year + 1) "&account=" (account) } { (year + 1) " ›" } }
                }
            }
            (chart)
            @if quiet_year {
                p.hint {
                    (year) " 年这三个账户都没有收支。"
                    @if let Some(day) = last_active {
                        " 最近一笔在 " (day) "："
                        a href={ (ctx.url("")) "?year=" (day.year()) "&account=" (account) } { "看 " (day.year()) " 年" }
                    }
                }
            }
        }
        section.statement #statement {
            h2 { "明细 Statement" }
            nav.accounts {
                @for (kind, label, _) in SERIES {
                    @if kind == account {
                        a.current href={ (ctx.url("")) "?year=" (year) "&account=" (kind) "#statement" } aria-current="true" { (label) }
                    } @else {
                        a href={ (ctx.url("")) "?year=" (year) "&account=" (kind) "#statement" } { (label) }
                    }
                }
            }
            form.range method="get" action=(ctx.url("")) {
                input type="hidden" name="year" value=(year);
                input type="hidden" name="account" value=(account);
                label { "从 " input type="date" name="from" value=(query.from.clone().unwrap_or_else(|| first.to_string())); }
                label { "到 " input type="date" name="to" value=(query.to.clone().unwrap_or_else(|| last.to_string())); }
                button type="submit" { "查询" }
            }
            @if let Some(err) = &range_refused { (refusal(err)) }
            @if rows.is_empty() {
                p.hint { "这段时间" (account_zh(&account)) "没有收支。" }
            } @else {
                table.lines {
                    thead { tr { th { "日期" } th { "摘要" } th.num { "金额（元）" } th.num { "余额（元）" } } }
                    tbody {
                        @for (line, after) in &rows {
                            tr data-kind=(line.kind) {
                                td.date { (line.business_date) }
                                td { (entry_kind_zh(&line.kind)) br; small { (line.memo) } }
                                td class={ "num " @if line.amount.starts_with('-') { "out" } @else { "in" } } {
                                    @if !line.amount.starts_with('-') { "+" } (line.amount)
                                }
                                td.num { (after) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page("", "账户与明细", StatusCode::OK, content))
}

// ---- the family network (§5) ----

#[derive(Deserialize, Default)]
struct InviteForm {
    #[serde(default)]
    member: String,
    #[serde(default)]
    relation: String,
}

#[derive(Deserialize, Default)]
struct NetworkQuery {
    ok: Option<String>,
}

async fn network<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(query): WebQuery<NetworkQuery>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(network_response(&ctx, None, &InviteForm::default(), notice_text(query.ok.as_deref())))
}

fn network_response(ctx: &Ctx, refused: Option<&ApiError>, invite: &InviteForm, done: Option<&str>) -> Response {
    let p = &ctx.person;
    let content = html! {
        @if let Some(text) = done { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        @match &ctx.rules {
            Some(rules) if !rules.network => {
                section.card {
                    h2 { "家庭共济网" }
                    p { "统筹区 " (p.area) " 的政策（" (rules.policy) "）没有开通家庭共济网。" }
                    @if rules.relative_transfer {
                        p { "本统筹区开通了亲属划转：" a href=(ctx.url("/transfer")) { "去办理亲属划转" } }
                    }
                    @if rules.association {
                        p { "本统筹区开通了家庭成员关联：" a href=(ctx.url("/bindings")) { "去办理家庭成员关联" } }
                    }
                }
            }
            None => { section.card { p { "没有找到统筹区 " (p.area) " 当前有效的政策，请联系经办机构。" } } }
            Some(rules) => {
                @match &p.network {
                    None => { (no_network(ctx)) }
                    Some(n) if n.role == "promoter" => { (promoter_view(ctx, rules, invite)) }
                    Some(_) => { (member_view(ctx)) }
                }
            }
        }
    };
    ctx.page("/network", "家庭共济网", refused_status(refused), content)
}

fn no_network(ctx: &Ctx) -> Markup {
    html! {
        section.card {
            h2 { "您还没有加入家庭共济网" }
            p { "组建家庭共济网后，家人在就医结算时，可以按支付顺序使用网内成员共济账户里的钱。" }
            ul.rules {
                li { "发起人：职工医保参保人员，状态正常，历年账户有余额（N1）。" }
                li { "成员：同一统筹区的职工医保或城乡居民医保参保人员，不含离休干部等统筹人员（N2）；配偶限 1 位，父母限 2 位，子女不限（N3）。" }
                li { "每人只能加入一个共济网（N5）；发起人的支付顺序默认排第一（N6）。" }
                li { "家人邀请您加入时，这里会出现确认按钮。" }
            }
            form method="post" action=(ctx.url("/network/create")) {
                button.primary type="submit" data-action="create-network" { "组建家庭共济网（我做发起人）" }
            }
        }
    }
}

fn members_table(ctx: &Ctx, promoter_controls: bool) -> Markup {
    let Some(n) = &ctx.person.network else { return html! {} };
    let count = n.members.len();
    html! {
        table.members {
            thead { tr { th.order title="支付顺序" { "顺序" } th { "个人编号" } th { "关系" } th { "状态" } @if promoter_controls { th { "操作" } } } }
            tbody {
                @for (index, m) in n.members.iter().enumerate() {
                    tr data-member=(m.psn_no) data-state=(m.state) {
                        td.order { (index + 1) }
                        td { (ctx.who(&m.psn_no)) }
                        td { @if m.psn_no == n.promoter { "发起人" } @else { (m.relation.as_deref().map(relation_zh).unwrap_or("")) } }
                        td { (member_state_zh(&m.state)) }
                        @if promoter_controls {
                            td.actions {
                                @if index > 0 {
                                    form.inline method="post" action=(ctx.url("/network/order")) {
                                        input type="hidden" name="member" value=(m.psn_no);
                                        input type="hidden" name="direction" value="up";
                                        button.small type="submit" title="上移" aria-label={ (m.psn_no) " 上移" } { "↑" }
                                    }
                                }
                                @if index + 1 < count {
                                    form.inline method="post" action=(ctx.url("/network/order")) {
                                        input type="hidden" name="member" value=(m.psn_no);
                                        input type="hidden" name="direction" value="down";
                                        button.small type="submit" title="下移" aria-label={ (m.psn_no) " 下移" } { "↓" }
                                    }
                                }
                                @if m.psn_no != n.promoter {
                                    form.inline method="post" action=(ctx.url("/network/remove")) {
                                        input type="hidden" name="member" value=(m.psn_no);
                                        button.small.danger type="submit" { "删除" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn promoter_view(ctx: &Ctx, rules: &AreaRules, invite: &InviteForm) -> Markup {
    html! {
        section.card {
            h2 { "我的家庭共济网（发起人）" }
            p.hint { "就医结算时先用患者本人的钱，不够时按下面的顺序使用一位成员的共济账户，一次结算只用一个共济账户（ST2、ST3）。只有发起人能调整顺序、添加和删除成员（N6、N7）；发起人也不能动用成员的钱（N9）。" }
            (members_table(ctx, true))
        }
        section.card {
            h2 { "添加家庭成员" }
            form.invite method="post" action=(ctx.url("/network/invite")) {
                label for="member" { "成员的个人编号" }
                input #member name="member" value=(invite.member) required autocomplete="off" placeholder="例如 B1";
                label for="relation" { "与您的关系" }
                select #relation name="relation" required {
                    @for (name, max) in &rules.relations {
                        option value=(name) selected[*name == invite.relation] {
                            (relation_zh(name))
                            @match max { Some(m) => { "（限 " (m) " 位）" } None => { "（不限人数）" } }
                        }
                    }
                }
                p.hint { "年满 16 周岁的成员要本人确认后才加入，确认前不共享资金（N10）。" }
                button.primary type="submit" { "添加成员" }
            }
        }
        section.card.danger-zone {
            h2 { "撤销家庭共济网" }
            p.hint { "撤销后所有成员视同退出；每个人共济账户里的钱仍归本人所有（N7、T3）。" }
            form method="post" action=(ctx.url("/network/dissolve")) {
                button.danger type="submit" { "撤销家庭共济网…" }
            }
        }
    }
}

fn member_view(ctx: &Ctx) -> Markup {
    let Some(n) = &ctx.person.network else { return html! {} };
    html! {
        @if n.state == "pending" {
            section.card.invite {
                h2 { "邀请待您确认" }
                p {
                    (n.promoter) " 邀请您以" strong { (n.relation.as_deref().map(relation_zh).unwrap_or("家庭成员")) } "身份加入家庭共济网。"
                    "确认后，您共济账户里的钱可以按支付顺序供网内家人就医时使用；钱仍归您本人所有，随时可以划回历年账户或退出（T1、T3、N8）。"
                }
                form method="post" action=(ctx.url("/network/confirm")) {
                    button.primary type="submit" data-action="confirm-membership" { "确认加入" }
                }
            }
        }
        section.card {
            h2 { (n.promoter) " 的家庭共济网" }
            p { "您的关系：" (n.relation.as_deref().map(relation_zh).unwrap_or("")) " · 支付顺序第 " (n.position) " 位 · " (member_state_zh(&n.state)) }
            (members_table(ctx, false))
            p.hint { "成员只能自己退出，不能更改别人（N8）；支付顺序由发起人调整（N6）。" }
        }
        section.card.danger-zone {
            form method="post" action=(ctx.url("/network/leave")) {
                button.danger type="submit" { "退出家庭共济网…" }
            }
        }
    }
}

/// After a network action: back to the network page with a notice, or the page again with the
/// refusal.
async fn network_after<S: Store + 'static, T>(
    state: &AppState<S>,
    session: &Session,
    psn_no: &str,
    result: ApiResult<T>,
    ok: impl FnOnce(T) -> &'static str,
    invite: &InviteForm,
) -> WebResult {
    match result {
        Ok(value) => Ok(see_other(&format!("/web/persons/{psn_no}/network?ok={}", ok(value)))),
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
        Err(err) => {
            err.log();
            let ctx = load(state, session, psn_no).await?;
            Ok(network_response(&ctx, Some(&err), invite, None))
        }
    }
}

async fn create<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, ApiPath(psn_no): ApiPath<String>) -> WebResult {
    let result = networks::create_network(State(state.clone()), session.credentials(), ApiJson(CreateNetworkRequest { promoter: psn_no.clone() })).await;
    network_after(&state, &session, &psn_no, result, |_| "created", &InviteForm::default()).await
}

async fn invite<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<InviteForm>,
) -> WebResult {
    let request = AddMemberRequest { member: form.member.trim().to_string(), relation: form.relation.clone() };
    let result = networks::add_member(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)).await;
    network_after(&state, &session, &psn_no, result, |added| if added.0.state == "pending" { "invited-pending" } else { "invited-active" }, &form).await
}

async fn confirm<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, ApiPath(psn_no): ApiPath<String>) -> WebResult {
    let result = networks::confirm_member(State(state.clone()), session.credentials(), ApiPath(psn_no.clone())).await;
    network_after(&state, &session, &psn_no, result, |_| "confirmed", &InviteForm::default()).await
}

#[derive(Deserialize)]
struct OrderForm {
    member: String,
    direction: String,
}

/// Moves one member up or down: the page sends the API the whole new order (N6), as read from
/// the network just now.
async fn reorder<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<OrderForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    let mut order: Vec<String> = ctx.person.network.as_ref().map(|n| n.members.iter().map(|m| m.psn_no.clone()).collect()).unwrap_or_default();
    let Some(index) = order.iter().position(|m| *m == form.member) else {
        return Ok(network_response(&ctx, Some(&ApiError::input(format!("{} is not in the network", form.member))), &InviteForm::default(), None));
    };
    let other = match form.direction.as_str() {
        "up" if index > 0 => index - 1,
        "down" if index + 1 < order.len() => index + 1,
        _ => return Ok(see_other(&ctx.url("/network"))),
    };
    order.swap(index, other);
    let result = networks::reorder(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(ReorderRequest { order })).await;
    network_after(&state, &session, &psn_no, result, |_| "reordered", &InviteForm::default()).await
}

#[derive(Deserialize)]
struct RemoveForm {
    member: String,
    confirmed: Option<String>,
}

async fn remove<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<RemoveForm>,
) -> WebResult {
    if form.confirmed.as_deref() != Some("yes") {
        let ctx = load(&state, &session, &psn_no).await?;
        let summary = html! {
            p { "从家庭共济网删除成员 " strong { (form.member) } "？" }
            p.hint { "删除后，他/她共济账户里的钱仍归本人所有（T3），但不再供网内家人使用。" }
        };
        let content = confirm_form(&ctx.url("/network/remove"), &[("member", form.member.clone())], "确认删除", &ctx.url("/network"), summary);
        return Ok(ctx.page("/network", "确认删除成员", StatusCode::OK, content));
    }
    let result = networks::remove_member(State(state.clone()), session.credentials(), ApiPath((psn_no.clone(), form.member.clone()))).await;
    network_after(&state, &session, &psn_no, result, |_| "removed", &InviteForm::default()).await
}

#[derive(Deserialize)]
struct ConfirmedForm {
    confirmed: Option<String>,
}

async fn leave<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<ConfirmedForm>,
) -> WebResult {
    if form.confirmed.as_deref() != Some("yes") {
        let ctx = load(&state, &session, &psn_no).await?;
        let promoter = ctx.person.network.as_ref().map(|n| n.promoter.clone()).unwrap_or_default();
        let summary = html! {
            p { "退出 " (promoter) " 的家庭共济网？" }
            p.hint { "退出后，您共济账户里的钱仍归您本人所有（T3），不再供网内家人使用；您也不再使用家人的共济账户。" }
        };
        let content = confirm_form(&ctx.url("/network/leave"), &[], "确认退出", &ctx.url("/network"), summary);
        return Ok(ctx.page("/network", "确认退出", StatusCode::OK, content));
    }
    let result = networks::leave_network(State(state.clone()), session.credentials(), ApiPath(psn_no.clone())).await;
    network_after(&state, &session, &psn_no, result, |_| "left", &InviteForm::default()).await
}

async fn dissolve<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<ConfirmedForm>,
) -> WebResult {
    if form.confirmed.as_deref() != Some("yes") {
        let ctx = load(&state, &session, &psn_no).await?;
        let members = ctx.person.network.as_ref().map(|n| n.members.len().saturating_sub(1)).unwrap_or(0);
        let summary = html! {
            p { "撤销您的家庭共济网？网内 " (members) " 位成员都将视同退出（N7）。" }
            p.hint { "每个人共济账户里的钱仍归本人所有（T3）。以后可以重新组建。" }
        };
        let content = confirm_form(&ctx.url("/network/dissolve"), &[], "确认撤销", &ctx.url("/network"), summary);
        return Ok(ctx.page("/network", "确认撤销共济网", StatusCode::OK, content));
    }
    let result = networks::dissolve(State(state.clone()), session.credentials(), ApiPath(psn_no.clone())).await;
    network_after(&state, &session, &psn_no, result, |_| "dissolved", &InviteForm::default()).await
}

// ---- HIS ↔ MUT (T1) ----

#[derive(Deserialize, Default)]
struct MoveForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    amount: String,
    confirmed: Option<String>,
}

fn other_account(from: &str) -> Option<&'static str> {
    match from {
        "his" => Some("mut"),
        "mut" => Some("his"),
        _ => None,
    }
}

async fn move_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(form): WebQuery<MoveForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(move_form(&ctx, &form, None))
}

fn move_form(ctx: &Ctx, form: &MoveForm, refused: Option<&ApiError>) -> Response {
    let from = if form.from == "mut" { "mut" } else { "his" };
    let content = html! {
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "历年账户 ↔ 共济账户 划转" }
            p.hint {
                "可以把本人历年账户的钱全部或部分划入本人共济账户，也可以从共济账户划回历年账户，即时到账（T1）。"
                "共济账户的钱仍归您本人所有（T3）；任何人，包括发起人，都不能划转您的钱（N9）。"
            }
            div.pair {
                div class="balance his" { h3 { "历年账户 HIS" } p.amount { (ctx.balance("his")) small { " 元" } } }
                div class="balance mut" { h3 { "共济账户 MUT" } p.amount { (ctx.balance("mut")) small { " 元" } } }
            }
            form.move method="post" action=(ctx.url("/move")) {
                fieldset {
                    legend { "划转方向" }
                    label.choice { input type="radio" name="from" value="his" checked[from == "his"]; " 历年账户 → 共济账户" }
                    label.choice { input type="radio" name="from" value="mut" checked[from == "mut"]; " 共济账户 → 历年账户" }
                }
                label for="amount" { "金额（元）" }
                input #amount name="amount" value=(form.amount) inputmode="decimal" autocomplete="off" required placeholder="例如 500 或 12.50";
                button.primary type="submit" { "下一步：确认" }
            }
        }
    };
    ctx.page("/move", "历年↔共济划转", refused_status(refused), content)
}

async fn move_post<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<MoveForm>,
) -> WebResult {
    let Some(to) = other_account(&form.from) else {
        let ctx = load(&state, &session, &psn_no).await?;
        return Ok(move_form(&ctx, &form, Some(&ApiError::input("choose HIS→MUT or MUT→HIS"))));
    };
    let amount = match Money::parse_positive(form.amount.trim()) {
        Ok(amount) => amount,
        Err(err) => {
            let ctx = load(&state, &session, &psn_no).await?;
            return Ok(move_form(&ctx, &form, Some(&ApiError::from(err))));
        }
    };
    if form.confirmed.as_deref() != Some("yes") {
        let ctx = load(&state, &session, &psn_no).await?;
        let summary = html! {
            table.confirm-table {
                tr { th { "转出" } td { (account_zh(&form.from)) " " (form.from.to_uppercase()) "（现有 " (yuan(ctx.balance(&form.from))) "）" } }
                tr { th { "转入" } td { (account_zh(to)) " " (to.to_uppercase()) "（现有 " (yuan(ctx.balance(to))) "）" } }
                tr.amount { th { "金额" } td { strong data-confirm-amount=(amount.to_string()) { (yuan(&amount.to_string())) } } }
            }
            p.hint { "确认后即时划转。" }
        };
        let back = format!("{}?from={}&amount={}", ctx.url("/move"), form.from, amount);
        let content = confirm_form(&ctx.url("/move"), &[("from", form.from.clone()), ("amount", amount.to_string())], "确认划转", &back, summary);
        return Ok(ctx.page("/move", "确认划转", StatusCode::OK, content));
    }
    let request = MoveRequest { from: form.from.clone(), to: to.to_string(), amount: amount.to_string() };
    match transfers::move_money(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)).await {
        Ok(_) => Ok(see_other(&format!("/web/persons/{psn_no}?ok=moved"))),
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
        Err(err) => {
            err.log();
            let ctx = load(&state, &session, &psn_no).await?;
            Ok(move_form(&ctx, &form, Some(&err)))
        }
    }
}

// ---- the preset (T2) ----

#[derive(Deserialize, Default)]
struct PresetForm {
    #[serde(default)]
    amount: String,
    clear: Option<String>,
    confirmed: Option<String>,
    ok: Option<String>,
}

async fn preset_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(form): WebQuery<PresetForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(preset_form(&ctx, &form, None))
}

fn preset_form(ctx: &Ctx, form: &PresetForm, refused: Option<&ApiError>) -> Response {
    let content = html! {
        @if let Some(text) = notice_text(form.ok.as_deref()) { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "预设划入" }
            p.hint {
                "加入家庭共济网的职工参保人员可以预设一个金额，每年 " (ctx.preset_day()) " 从历年账户划入共济账户。"
                "到时历年账户余额不足预设金额，或账户状态不正常，就不划（T2）。"
            }
            p { "现在的预设：" @match &ctx.person.preset { Some(amount) => { strong data-preset=(amount) { (yuan(amount)) } } None => { "未设置" } } }
            form method="post" action=(ctx.url("/preset")) {
                label for="preset-amount" { "每年划入金额（元）" }
                input #preset-amount name="amount" value=(form.amount) inputmode="decimal" autocomplete="off" required placeholder="例如 1000";
                button.primary type="submit" { "下一步：确认" }
            }
            @if ctx.person.preset.is_some() {
                form method="post" action=(ctx.url("/preset")) {
                    input type="hidden" name="clear" value="yes";
                    button.danger type="submit" { "取消预设…" }
                }
            }
        }
    };
    ctx.page("/preset", "预设划入", refused_status(refused), content)
}

async fn preset_post<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<PresetForm>,
) -> WebResult {
    let clear = form.clear.as_deref() == Some("yes");
    let amount = if clear {
        None
    } else {
        match Money::parse_positive(form.amount.trim()) {
            Ok(amount) => Some(amount),
            Err(err) => {
                let ctx = load(&state, &session, &psn_no).await?;
                return Ok(preset_form(&ctx, &form, Some(&ApiError::from(err))));
            }
        }
    };
    if form.confirmed.as_deref() != Some("yes") {
        let ctx = load(&state, &session, &psn_no).await?;
        let (summary, fields) = match amount {
            Some(amount) => (
                html! {
                    p { "每年 " (ctx.preset_day()) " 从历年账户 HIS 划入共济账户 MUT：" strong data-confirm-amount=(amount.to_string()) { (yuan(&amount.to_string())) } }
                    @if let Some(before) = &ctx.person.preset { p.hint { "现在的预设 " (yuan(before)) " 将被替换。" } }
                },
                vec![("amount", amount.to_string())],
            ),
            None => (html! { p { "取消每年 " (ctx.preset_day()) " 的预设划入？" } }, vec![("clear", "yes".to_string())]),
        };
        let content = confirm_form(&ctx.url("/preset"), &fields, "确认", &ctx.url("/preset"), summary);
        return Ok(ctx.page("/preset", "确认预设", StatusCode::OK, content));
    }
    let request = PresetRequest { amount: amount.map(|a| a.to_string()) };
    match transfers::set_preset(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)).await {
        Ok(_) => Ok(see_other(&format!("/web/persons/{psn_no}/preset?ok={}", if clear { "preset-cleared" } else { "preset-set" }))),
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
        Err(err) => {
            err.log();
            let ctx = load(&state, &session, &psn_no).await?;
            Ok(preset_form(&ctx, &form, Some(&err)))
        }
    }
}

// ---- why can't my family use this money (Q4) ----

#[derive(Deserialize, Default)]
struct WhyQuery {
    visit: Option<String>,
    amount: Option<String>,
}

async fn why<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(query): WebQuery<WhyQuery>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    let visit = query.visit.clone().unwrap_or_else(|| "outpatient".into());
    let amount = query.amount.clone().unwrap_or_default();
    let mut refused = None;
    let mut answer = None;
    if query.amount.is_some() {
        let request = ExplainRequest { visit: visit.clone(), amount: amount.trim().to_string() };
        match settlement::explain(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)).await {
            Ok(view) => answer = Some(view.0),
            Err(err) if err.status == StatusCode::UNAUTHORIZED => return Err(WebError::SignIn),
            Err(err) => {
                err.log();
                refused = Some(err);
            }
        }
    }
    let content = html! {
        section.card {
            h2 { "为什么家人不能用这笔钱？" }
            p.hint {
                "就医结算时，先用患者本人的当年账户、历年账户，再用本人的共济账户；本人的钱不够，才按支付顺序使用网内一位家人的共济账户。"
                "一次结算只能用一个共济账户（ST2、ST3）。家人还没确认加入、账户状态不正常、余额为零，或政策不允许这类费用用账户支付时，都不能用（N10、ST4、ST2）。"
            }
            form.why method="get" action=(ctx.url("/why")) {
                label for="visit" { "就医类型" }
                select #visit name="visit" {
                    @for v in VISITS { option value=(v) selected[v == visit] { (visit_zh(v)) } }
                }
                label for="why-amount" { "这次要个人负担的金额（元）" }
                input #why-amount name="amount" value=(amount) inputmode="decimal" autocomplete="off" required placeholder="例如 3000";
                button.primary type="submit" { "看看能用哪些钱" }
            }
        }
        @if let Some(err) = &refused { (refusal(err)) }
        @if let Some(view) = &answer { (explanation(&ctx, view)) }
    };
    Ok(ctx.page("/why", "为什么家人不能用", refused_status(refused.as_ref()), content))
}

/// `A1.mut` → "A1 的共济账户" (this page's person: "本人的…"); `family.mut` → "家人的共济账户".
fn account_label(ctx: &Ctx, key: &str) -> String {
    match split_account_name(key) {
        Some((owner, kind)) if owner == ctx.psn() => format!("本人的{}", account_zh(kind)),
        Some((FAMILY, kind)) => format!("家人的{}", account_zh(kind)),
        Some((owner, kind)) => format!("{owner} 的{}", account_zh(kind)),
        None => key.to_string(),
    }
}

fn explanation(ctx: &Ctx, view: &ExplainView) -> Markup {
    html! {
        section.card.explanation #explanation {
            h2 { "按现在的余额：" (visit_zh(&view.visit)) "，个人负担 " (yuan(&view.amount)) }
            ul.payments {
                @for (account, amount) in &view.payments {
                    li data-account=(account) { (account_label(ctx, account)) " 支付 " (yuan(amount)) }
                }
                li data-account="cash" { "个人现金支付 " (yuan(&view.cash)) }
            }
            h3 { "每一步的说明（ST7）" }
            ol.steps {
                @for step in &view.steps { (explanation_step(ctx, step)) }
            }
            p.hint { "按统筹区政策 " (view.policy) " 计算；只是预估，不结算、不扣钱（Q4）。实际结算时以当时的余额为准。" }
        }
    }
}

fn explanation_step(ctx: &Ctx, step: &StepView) -> Markup {
    let paid = step.code.starts_with("paid.");
    html! {
        li class={ "step " @if paid { "paid" } @else { "skip" } } data-code=(step.code) {
            span.mark aria-hidden="true" { @if paid { "✓" } @else { "✗" } }
            span.text {
                (step.message)
                small {
                    @if let Some(account) = &step.account { (account_label(ctx, account)) " · " }
                    "规则 " (step.rule)
                    @if paid { " · " (step.amount) " 元" }
                }
            }
        }
    }
}
