//! One person's pages, one module per page: accounts with a statement and a chart of the year
//! (Q1, Q2, [`accounts`]), the family network (N1–N10, [`network`]), HIS↔MUT moves and the preset
//! (T1, T2, [`moves`]) and "why can't my family use this money" (Q4, [`why`]); the family
//! models' pages are [`super::family`]. The insured person sees their own; an operator of the
//! person's area (or an admin) sees the same pages at the counter and acts on the person's
//! behalf (N11), recorded as the operator. Every read and every action is a call of the JSON
//! API's handler; every form that acts has the one shape of [`OnPerson::act`].

mod accounts;
mod moves;
mod network;
mod why;

use std::future::Future;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use gongji_core::AreaCode;
use gongji_store::Store;
use maud::{html, Markup};

use super::layout::{person_tabs, Page};
use super::messages::{insurance_zh, status_zh};
use super::{html_page, see_other, viewer, Session, Viewer, WebError, WebResult};
use crate::extract::ApiPath;
use crate::problem::{ApiError, ApiResult};
use crate::routes::persons::{self, PersonView};
use crate::routes::RouteTable;
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().merge(accounts::routes()).merge(network::routes()).merge(moves::routes()).merge(why::routes())
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

/// The status of a page shown with `refused` above its form (the API's), else 200.
pub(super) fn refused_status(refused: Option<&ApiError>) -> StatusCode {
    refused.map(|e| e.status).unwrap_or(StatusCode::OK)
}

/// A form that came back without `confirmed=yes` asks for its confirmation page first.
pub(super) fn unconfirmed(confirmed: &Option<String>) -> bool {
    confirmed.as_deref() != Some("yes")
}

/// The confirmation of an action that needs none (founding a network, adding a member, …).
pub(super) fn at_once<P>() -> Option<fn(&Ctx, &P) -> Response> {
    None
}

/// The person of a page, with the state and the session a form of the page acts with.
pub(super) struct OnPerson<'a, S: Store + 'static> {
    pub(super) state: &'a AppState<S>,
    pub(super) session: &'a Session,
    pub(super) psn_no: &'a str,
}

impl<S: Store + 'static> OnPerson<'_, S> {
    /// The page's context, read anew (through the API).
    pub(super) async fn ctx(&self) -> Result<Ctx, WebError> {
        load(self.state, self.session, self.psn_no).await
    }

    /// The one shape of every form of the person and family pages that acts (issue 9):
    /// 1. `parsed`: what was typed, already turned into the API's request; a refusal here shows
    ///    the form again with it (`again`), and nothing is asked of the API;
    /// 2. `confirmation`: the page that shows what will happen (the amount, both accounts, who
    ///    is removed), for an action that needs one, until the form comes back confirmed;
    /// 3. `call`: the JSON API's own handler, with the session's credentials;
    /// 4. the browser is sent on (303 to `done`'s address, so that a reload does not repeat
    ///    the action), or shown the form again with the API's refusal (`again`, logged), or,
    ///    when the session is gone, sent to sign in.
    ///
    /// The page's context is read only where a page is shown, after the API has answered.
    pub(super) async fn act<P, T, Confirm, Call, Called, Again, Shown>(
        &self,
        parsed: Result<P, ApiError>,
        confirmation: Option<Confirm>,
        call: Call,
        done: impl FnOnce(T) -> String,
        again: Again,
    ) -> WebResult
    where
        Confirm: FnOnce(&Ctx, &P) -> Response,
        Call: FnOnce(P) -> Called,
        Called: Future<Output = ApiResult<T>>,
        Again: FnOnce(Ctx, ApiError) -> Shown,
        Shown: Future<Output = WebResult>,
    {
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(err) => return again(self.ctx().await?, err).await,
        };
        if let Some(confirmation) = confirmation {
            return Ok(confirmation(&self.ctx().await?, &parsed));
        }
        match call(parsed).await {
            Ok(answer) => Ok(see_other(&done(answer))),
            Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
            Err(err) => {
                err.log();
                again(self.ctx().await?, err).await
            }
        }
    }
}
