//! Plain Chinese words for the stable codes (SPEC §14 and the HTTP layer's own), and labels for
//! the values the pages show: the one table of the pages' words, one word per value (visit types
//! and statuses in the words of the seeds: 定点药店购药, 预防接种, 撤销待清算 …). Presentation
//! only: the rule that refused is the engine's, and the page shows its code and rule id beside
//! these words.

use std::borrow::Cow;

/// What a refusal with `code` means, in plain words. Unknown codes (added later by another
/// family model) fall back to a general sentence; the page still shows the code and the
/// engine's own detail.
pub fn refusal_zh(code: &str) -> &'static str {
    match code {
        "input.invalid" => "填写的内容不完整或格式不对，请检查后再提交。",
        "money.invalid_amount" => "金额格式不对：请填写大于零的金额，最多两位小数（例如 100 或 12.50）。",
        "money.insufficient" => "余额不足：金额不能超过转出账户现在的余额。",
        "person.invalid_id_number" => "身份证号码不正确：应为 18 位，出生日期和最后一位校验码都要正确。",
        "person.not_found" => "查无此人：没有这个个人编号或身份证号码的参保人员。",
        "person.duplicate" => "这位参保人员已经登记过了。",
        "person.status" => "参保人员的账户状态不允许办理这项业务（暂停、撤销或撤销待清算时不能办理）。",
        "network.promoter_not_eligible" => "不能作为发起人：发起人必须是职工医保参保人员，而且历年账户有余额。",
        "network.member_not_eligible" => "不能加入共济网：离休干部、二等乙级伤残军人、机关子女等统筹人员不能加入。",
        "network.other_area" => "不能加入：家庭成员必须和发起人在同一个统筹区参保。",
        "network.spouse_limit" => "共济网里已经有一位配偶了，配偶只能有 1 位。",
        "network.parent_limit" => "共济网里已经有两位父母了，父母最多 2 位。",
        "network.relation_limit" => "这种关系的成员人数已经到了政策规定的上限。",
        "network.already_member" => "这位参保人员已经在一个家庭共济网里了，每人只能加入一个共济网。",
        "network.not_allowed" => "您无权办理这项业务：只有发起人能添加、删除成员和调整支付顺序；成员只能自己退出；任何人都不能动用别人的钱。",
        "network.not_found" => "没有找到对应的家庭共济网或成员。",
        "network.model_disabled" => "本统筹区的政策没有开通这项家庭共济业务。",
        "network.relation_not_allowed" => "本统筹区的政策不允许这种关系的家庭成员加入。",
        "network.pending" => "没有等待您确认的邀请。",
        "transfer.identity_mismatch" => "姓名和身份证号码与登记的信息不一致。",
        "transfer.code_invalid" => "验证码不对、已过期、已用过或尝试次数过多。",
        "transfer.not_eligible" => "不能办理这项划转：只有职工医保参保人员有历年账户和共济账户；往共济账户划入，必须是已确认加入家庭共济网的成员。",
        "transfer.commitment_required" => "请先阅读并同意承诺书。",
        "association.already_bound" => "已经关联过这位亲属了。",
        "association.not_found" => "没有找到这项关联。",
        "quota.not_found" => "没有找到这项共济额度。",
        "quota.limit" => "超出了共济额度的限制。",
        "premium.already_paid" => "这笔保费已经缴过了。",
        "settlement.conflict" => "同一张单据已经用不同的内容结算过。",
        "settlement.not_found" => "没有找到这笔结算。",
        "settlement.invalid_bill" => "单据内容不完整或金额对不上。",
        "settlement.already_cancelled" => "这笔结算已经退费了。",
        "settlement.amount_limit" => "单据金额超过了本统筹区政策规定的单张单据最高金额，请核对金额。",
        "settlement.date_out_of_range" => "单据日期不对：不能晚于今天，也不能早于政策允许补结算的期限。",
        "job.not_due" => "这个批处理作业现在还不能运行：日期未到，或者上一年的年终结转还没有做完。",
        "policy.invalid" | "policy.not_found" => "没有找到当时有效的医保政策，请联系经办机构。",
        "credit.duplicate" => "这笔入账已经记过了。",
        "credit.not_eligible" => "这个账户不能入账。",
        "auth.forbidden" => "您的身份无权办理这项业务，或无权查看这位参保人员的信息。",
        "auth.unauthenticated" => "登录已失效或令牌不对，请重新登录。",
        "job.running" => "已经有一个批处理作业在运行，请等它结束后再启动。",
        "job.not_found" => "没有找到这个批处理作业（服务重启后，作业列表会清空）。",
        "service.busy" => "系统正忙，请稍后再试。",
        "http.timeout" => "处理时间太长，请稍后查看结果再决定是否重试。",
        "internal" => "系统出错了，请稍后再试；如果一直出错，请联系经办机构。",
        _ => "这项业务没有办成。",
    }
}

pub fn account_zh(kind: &str) -> &'static str {
    match kind {
        "cur" => "当年账户",
        "his" => "历年账户",
        "mut" => "共济账户",
        _ => "账户",
    }
}

pub fn relation_zh(relation: &str) -> &str {
    match relation {
        "spouse" => "配偶",
        "parent" => "父母",
        "child" => "子女",
        "sibling" => "兄弟姐妹",
        "grandparent" => "祖父母、外祖父母",
        "grandchild" => "孙子女、外孙子女",
        other => other,
    }
}

pub fn member_state_zh(state: &str) -> &'static str {
    match state {
        "active" => "已确认",
        "pending" => "待本人确认",
        _ => "",
    }
}

pub fn status_zh(status: &str) -> &str {
    match status {
        "normal" => "正常",
        "suspended" => "暂停",
        "cancelled" => "撤销",
        "pending_liquidation" => "撤销待清算",
        other => other,
    }
}

pub fn insurance_zh(insurance: &str) -> &str {
    match insurance {
        "employee" => "职工基本医疗保险",
        "resident" => "城乡居民基本医疗保险",
        "special" => "统筹人员（离休干部等）",
        other => other,
    }
}

pub const VISITS: [&str; 6] = ["outpatient", "emergency", "inpatient", "pharmacy", "community", "vaccination"];

/// A visit type in the pages' words. seeds/001 says 定点药店购药 (定點葯店購葯) and 预防接种
/// (預防接種); for `community` the seeds have only Shenzhen's 社康 (社区健康服务), said here the
/// national way, 社区卫生服务.
pub fn visit_zh(visit: &str) -> &str {
    match visit {
        "outpatient" => "门诊",
        "emergency" => "急诊",
        "inpatient" => "住院",
        "pharmacy" => "定点药店购药",
        "community" => "社区卫生服务",
        "vaccination" => "预防接种",
        other => other,
    }
}

/// An explanation step of the engine (ST7) in the pages' words. The core now writes the same
/// words as [`visit_zh`]; explanations stored with settlements before it did say 药店购药,
/// 社区门诊 or 疫苗接种, and a step about `visit` (the one explained) says the word of
/// [`visit_zh`] instead, so that a page never names one visit type two ways.
pub fn step_message_zh<'a>(message: &'a str, visit: &str) -> Cow<'a, str> {
    let legacy = match visit {
        "pharmacy" => "药店购药",
        "community" => "社区门诊",
        "vaccination" => "疫苗接种",
        _ => return Cow::Borrowed(message),
    };
    let page_word = visit_zh(visit);
    if message.contains(page_word) || !message.contains(legacy) {
        Cow::Borrowed(message)
    } else {
        Cow::Owned(message.replace(legacy, page_word))
    }
}

pub fn entry_kind_zh(kind: &str) -> &str {
    match kind {
        "contribution" => "缴费划入",
        "opening_balance" => "期初余额",
        "mutual_aid_transfer" => "历年↔共济划转",
        "settlement" => "就医结算支付",
        "settlement_cancel" => "结算退费",
        "refund_sync" => "退费返还历年账户",
        "interest" => "利息",
        "year_end_sweep" => "年末共济账户划回历年",
        "roll_over" => "当年账户结转历年",
        "liquidation" => "清算",
        "relative_transfer" => "亲属划转",
        other => other,
    }
}

pub fn network_event_zh(kind: &str) -> &str {
    match kind {
        "created" => "组建共济网",
        "member_added" => "添加成员",
        "member_confirmed" => "成员确认加入",
        "member_removed" => "删除成员",
        "member_left" => "成员退出",
        "reordered" => "调整支付顺序",
        "dissolved" => "撤销共济网",
        other => other,
    }
}

pub fn channel_zh(channel: &str) -> &str {
    match channel {
        "app" => "医保APP",
        "terminal" => "自助终端",
        "counter" => "经办窗口",
        "web" => "网页",
        "api" => "接口",
        "batch" => "批处理",
        other => other,
    }
}

pub fn job_zh(job: &str) -> &str {
    match job {
        "year_end" => "年末结算（共济账户划回、计息、当年结转）B1",
        "preset" => "预设划入（历年→共济）B2",
        "refund_sync" => "退费同步（暂存款返还历年账户）B3",
        other => other,
    }
}

pub fn job_state_zh(state: &str) -> &str {
    match state {
        "running" => "运行中",
        "done" => "已完成",
        "failed" => "失败",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongji_core::settlement::visit_zh as core_visit_zh;
    use gongji_core::{ErrorCode, VisitType};

    #[test]
    fn every_visit_type_has_one_word_on_the_pages() {
        assert_eq!(VISITS.len(), VisitType::ALL.len());
        for visit in VisitType::ALL {
            let word = visit_zh(visit.as_str());
            assert!(VISITS.contains(&visit.as_str()) && word != visit.as_str(), "{visit} needs its word in web::messages");
            // The core says the pages' word; a step stored before it did reads in the pages' word.
            assert_eq!(core_visit_zh(*visit), word, "{visit}: one word in core and on the pages");
            let page = format!("本人历年账户：按政策不能支付{word}类就诊的自费费用");
            assert_eq!(step_message_zh(&page, visit.as_str()), page);
        }
        assert_eq!(
            step_message_zh("本人历年账户：按政策不能支付药店购药类就诊的自费费用", "pharmacy"),
            "本人历年账户：按政策不能支付定点药店购药类就诊的自费费用"
        );
        assert_eq!(step_message_zh("个人现金支付 10.00 元", "pharmacy"), "个人现金支付 10.00 元");
    }

    #[test]
    fn every_spec_14_code_has_its_own_chinese_words() {
        let fallback = refusal_zh("no.such_code");
        for code in ErrorCode::ALL {
            assert_ne!(refusal_zh(code.as_str()), fallback, "{code} needs plain Chinese words in web::messages");
        }
    }
}
