//! The page shell (head, top bar, navigation), the refusal box, the confirmation page and small
//! pieces shared by the pages. Markup only: nothing here decides a business question.

use maud::{html, Markup, DOCTYPE};

use super::messages::refusal_zh;
use super::Viewer;
use crate::auth::Role;
use crate::problem::ApiError;

/// A finished page: title, who looks at it (for the navigation), the body.
pub struct Page<'a> {
    pub title: &'a str,
    pub viewer: Option<&'a Viewer>,
    /// Extra lines for `<head>` (a refresh while a job runs without JavaScript).
    pub head: Option<Markup>,
    pub body: Markup,
}

impl Page<'_> {
    pub fn render(self) -> Markup {
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="referrer" content="same-origin";
                    title { (self.title) " · 共济 gongji" }
                    link rel="stylesheet" href="/web/static/app.css";
                    script src="/web/static/app.js" defer {}
                    @if let Some(head) = self.head { (head) }
                }
                body {
                    header.top {
                        a.brand href="/web" { "共济" small { " gongji · 医保个人账户家庭共济" } }
                        @if let Some(viewer) = self.viewer {
                            nav.main aria-label="主菜单" { (main_nav(viewer)) }
                            form.signout method="post" action="/web/sign-out" {
                                span.who { (viewer.describe()) }
                                button.link type="submit" { "退出 Sign out" }
                            }
                        }
                    }
                    main { (self.body) }
                    footer {
                        "gongji 共济 · 规则编号（N3、T1、ST3 …）见产品规范 SPEC · "
                        a href="/openapi.json" { "JSON API (OpenAPI)" }
                    }
                }
            }
        }
    }
}

fn main_nav(viewer: &Viewer) -> Markup {
    html! {
        @match viewer.role {
            Role::Insured => {
                @if let Some(me) = &viewer.person {
                    a href={ "/web/persons/" (me) } { "我的账户" }
                }
            }
            Role::Operator | Role::Admin => {
                a href="/web/counter" { "柜台 Counter" }
                a href="/web/counter/jobs" { "批处理 Jobs" }
                a href="/web/counter/queries" { "批量查询" }
            }
            Role::Institution => {}
        }
    }
}

/// The tabs of one person's pages: the network, HIS↔MUT and the preset, the relative transfer,
/// the bindings, each only in areas whose policy has that model.
pub fn person_tabs(psn_no: &str, current: &str, network: bool, relative_transfer: bool, association: bool) -> Markup {
    let mut tabs = vec![("", "账户与明细")];
    if network {
        tabs.extend([("/network", "家庭共济网"), ("/move", "历年↔共济划转"), ("/preset", "预设划入")]);
    }
    if relative_transfer {
        tabs.push(("/transfer", "亲属划转"));
    }
    if association {
        tabs.push(("/bindings", "家庭成员关联"));
    }
    tabs.push(("/why", "为什么家人不能用"));
    html! {
        nav.tabs aria-label="业务" {
            @for (path, label) in tabs {
                @if path == current {
                    a.current href={ "/web/persons/" (psn_no) (path) } aria-current="page" { (label) }
                } @else {
                    a href={ "/web/persons/" (psn_no) (path) } { (label) }
                }
            }
        }
    }
}

/// A refused action: the rule's words in Chinese, its code and rule id, the engine's detail.
pub fn refusal(err: &ApiError) -> Markup {
    refusal_parts(err.code, err.rule, &err.detail)
}

/// The same from the parts of a problem (a failed job's stored problem).
pub fn refusal_parts(code: &str, rule: &str, detail: &str) -> Markup {
    html! {
        div.refusal role="alert" data-code=(code) {
            p.words { strong { "没有办成：" } (refusal_zh(code)) }
            p.code {
                "代码 " code { (code) }
                @if !rule.is_empty() { " · 规则 " strong { (rule) } }
            }
            @if !detail.is_empty() {
                details { summary { "详细说明 Details" } p { (detail) } }
            }
        }
    }
}

/// A notice after an action that worked.
pub fn notice(text: &str) -> Markup {
    html! { div.notice role="status" { (text) } }
}

/// A confirmation step: what will happen (`summary`), the same fields again as hidden inputs
/// with `confirmed=yes`, a button that does it and a way back.
pub fn confirm_form(action: &str, fields: &[(&str, String)], button: &str, back: &str, summary: Markup) -> Markup {
    html! {
        section.confirm {
            h2 { "请确认" }
            (summary)
            form method="post" action=(action) {
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                input type="hidden" name="confirmed" value="yes";
                div.buttons {
                    button.primary type="submit" { (button) }
                    a.button href=(back) { "返回修改" }
                }
            }
        }
    }
}

/// Money as shown: the API's decimal string and 元.
pub fn yuan(amount: &str) -> Markup {
    html! { span.money { (amount) } " 元" }
}
