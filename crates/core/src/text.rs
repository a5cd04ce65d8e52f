//! Free text and identifiers at the edges (issue 12). One rule decides what a person's name, a
//! bill id, an item, a token name or a reason may hold, wherever it enters (HTTP, the HIS
//! dialect, CSV imports, scenario files, the CLI), so that nothing gongji stores, logs, prints
//! on a settlement slip or shows on a page can break a line, hide text or reorder it.
//!
//! Free text ([`check_text`]) may be any script: Chinese names with the middle dot of minority
//! names (`阿依古丽·买买提`), rare characters of the CJK extensions, private-use characters
//! (legacy registers encode some rare name characters there, so refusing them would refuse
//! real persons), variation selectors after a letter, and spaces inside. Refused, each with
//! `input.invalid` and the position and code point of the character (never the text itself):
//! - controls (general category Cc: NUL, line feed, carriage return, tab, escape, DEL, C1);
//! - format characters (Cf): the bidirectional embeddings, overrides and isolates
//!   (U+202A–U+202E, U+2066–U+2069), the marks U+200E/U+200F/U+061C, zero-width space and
//!   joiners (U+200B–U+200D), U+FEFF, the soft hyphen U+00AD, invisible operators, tags;
//! - line and paragraph separators (Zl, Zp: U+2028, U+2029);
//! - noncharacters (U+FDD0–U+FDEF and the last two of every plane) and U+FFFC/U+FFFD, which
//!   only a broken decoding produces;
//! - the fillers that render as nothing (Hangul fillers U+115F, U+1160, U+3164, U+FFA0, and the
//!   blank braille pattern U+2800), so that no name looks empty or like another;
//! - a combining mark with no character before it to combine with;
//! - text that is empty or only whitespace, and text longer than its field's limit.
//!
//! Identifiers ([`check_identifier`]: bill ids, institution codes, HIS `mdtrt_id`, `setl_id`)
//! are printable ASCII without spaces (`!`..=`~`): what hospital and platform systems issue.
//! A `psn_no` ([`check_psn_no`]) keeps its stricter register rule (P1): letters, digits, `-`, `_`.
//! Unpaired surrogates cannot reach here: a Rust string cannot hold them, and the JSON parser
//! refuses a lone `\ud800` escape.

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::{DomainError, DomainResult, ErrorCode};

/// A person's name (P1, TR2, X1): the register's names are far shorter.
pub const NAME_CHARS_MAX: usize = 64;
/// A bill id or an institution code (§9, ST6).
pub const IDENTIFIER_LEN_MAX: usize = 64;
/// A psn_no (P1).
pub const PSN_NO_LEN_MAX: usize = 40;
/// An item's code on a bill (§9): national catalogue codes are about 30 characters.
pub const ITEM_CODE_CHARS_MAX: usize = 64;
/// An item's name on a bill (§9): drug names with their packaging fit easily.
pub const ITEM_NAME_CHARS_MAX: usize = 200;
/// A relation's name (N3, TR1, S1, X1): the policies' are single words.
pub const RELATION_CHARS_MAX: usize = 32;
/// A reason given for a change (P6).
pub const LABEL_CHARS_MAX: usize = 200;

/// Required free text of at most `max_chars` characters: refused when empty or only
/// whitespace, too long, or holding a character of the list in the module's comment.
pub fn check_text(field: &str, rule: &'static str, value: &str, max_chars: usize) -> DomainResult<()> {
    if value.trim().is_empty() {
        return Err(refused(field, rule, format!("{field} is required")));
    }
    check_optional_text(field, rule, value, max_chars)
}

/// Free text that may be empty (an item's name); otherwise as [`check_text`].
pub fn check_optional_text(field: &str, rule: &'static str, value: &str, max_chars: usize) -> DomainResult<()> {
    let mut previous: Option<char> = None;
    let mut count = 0usize;
    for c in value.chars() {
        count += 1;
        if count > max_chars {
            return Err(refused(field, rule, format!("{field} is at most {max_chars} characters")));
        }
        if let Some(what) = refused_in_text(c, previous) {
            return Err(refused(field, rule, format!("{field}: character {count} ({}) is {what}; {field} is printable text", code_point(c))));
        }
        previous = Some(c);
    }
    Ok(())
}

/// An identifier of at most `max_len` characters, each printable ASCII other than space.
pub fn check_identifier(field: &str, rule: &'static str, value: &str, max_len: usize) -> DomainResult<()> {
    check_ascii(field, rule, value, max_len, |c| c.is_ascii_graphic(), "printable ASCII without spaces")
}

/// A psn_no (P1): 1 to [`PSN_NO_LEN_MAX`] letters, digits, `-` or `_`.
pub fn check_psn_no(field: &str, rule: &'static str, value: &str) -> DomainResult<()> {
    check_ascii(field, rule, value, PSN_NO_LEN_MAX, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_', "letters, digits, - or _")
}

fn check_ascii(field: &str, rule: &'static str, value: &str, max_len: usize, allowed: impl Fn(char) -> bool, what: &str) -> DomainResult<()> {
    if value.is_empty() {
        return Err(refused(field, rule, format!("{field} is required")));
    }
    for (index, c) in value.chars().enumerate() {
        if index >= max_len {
            return Err(refused(field, rule, format!("{field} is at most {max_len} characters")));
        }
        if !allowed(c) {
            return Err(refused(field, rule, format!("{field}: character {} ({}) is not allowed; {field} is {what}", index + 1, code_point(c))));
        }
    }
    Ok(())
}

/// Why `c` has no place in free text, after `previous` (`None` at the start).
fn refused_in_text(c: char, previous: Option<char>) -> Option<&'static str> {
    let category = c.general_category();
    match category {
        GeneralCategory::Control => return Some("a control character (NUL, line feed, tab, …)"),
        GeneralCategory::Format => return Some("an invisible format character (bidirectional override, zero-width space, …)"),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => return Some("a line or paragraph separator"),
        _ => {}
    }
    if is_noncharacter(c) || matches!(c, '\u{FFFC}' | '\u{FFFD}') {
        return Some("a noncharacter or a replacement character (a broken encoding)");
    }
    if matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}') {
        return Some("a filler that renders as nothing");
    }
    if previous.is_none() && c.general_category_group() == GeneralCategoryGroup::Mark {
        return Some("a combining mark with nothing before it");
    }
    None
}

/// U+FDD0–U+FDEF and U+xFFFE, U+xFFFF of every plane: never meant for interchange.
fn is_noncharacter(c: char) -> bool {
    let value = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&value) || value & 0xFFFE == 0xFFFE
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

fn refused(field: &str, rule: &'static str, message: String) -> DomainError {
    debug_assert!(!field.is_empty());
    DomainError::new(ErrorCode::InputInvalid, rule, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(value, accepted)` as free text of at most 16 characters.
    fn check(cases: &[(&str, bool)]) {
        for (value, accepted) in cases {
            let result = check_text("name", "P1", value, 16);
            assert_eq!(result.is_ok(), *accepted, "{value:?}: {result:?}");
            if let Err(err) = result {
                assert_eq!(err.code, ErrorCode::InputInvalid, "{value:?}");
                assert_eq!(err.rule, "P1");
                // The message names the field and never carries the text itself.
                assert!(err.message.starts_with("name"), "{}", err.message);
                assert!(!value.chars().any(|c| !c.is_ascii() && err.message.contains(c)), "{value:?} echoed: {}", err.message);
                assert!(!err.message.contains(|c: char| c.is_control() || c.general_category() == GeneralCategory::Format), "{}", err.message);
            }
        }
    }

    #[test]
    fn issue12_p1_names_of_every_script_are_text() {
        check(&[
            ("张三", true),
            ("欧阳娜娜", true),
            // The middle dot U+00B7 of minority names.
            ("阿依古丽·买买提", true),
            // A katakana middle dot, as some registers type it.
            ("阿依古丽・买买提", true),
            // A rare character of CJK extension B (U+20BB7 𠮷) and of extension G (U+30000).
            ("\u{20BB7}野", true),
            ("王\u{30000}", true),
            // A legacy register's private-use character for a rare name character.
            ("李\u{E000}", true),
            // An ideographic variation sequence: a letter, then its variation selector.
            ("葛\u{E0100}优", true),
            ("Zhang San", true),
            ("Émile", true),
            ("e\u{301}", true),
            ("张　三", true),
        ]);
    }

    #[test]
    fn issue12_every_class_of_bad_character_is_refused() {
        check(&[
            // Cc: controls.
            ("张\u{0}三", false),
            ("李\n四", false),
            ("李\r四", false),
            ("李\t四", false),
            ("\u{1B}[31m王", false),
            ("王\u{7F}", false),
            ("王\u{85}", false),
            // Cf: reordering (bidi embeddings, overrides, isolates, marks).
            ("\u{202E}王五", false),
            ("王\u{202A}五", false),
            ("王\u{202D}五", false),
            ("王\u{2066}五\u{2069}", false),
            ("王\u{2068}五", false),
            ("王\u{200E}五", false),
            ("王\u{200F}五", false),
            ("王\u{61C}五", false),
            // Cf: hiding (zero-width, BOM, soft hyphen, word joiner, invisible operators, tags).
            ("王\u{200B}五", false),
            ("王\u{200C}五", false),
            ("王\u{200D}五", false),
            ("\u{FEFF}王五", false),
            ("王\u{AD}五", false),
            ("王\u{2060}五", false),
            ("王\u{2062}五", false),
            ("王\u{E0041}五", false),
            // Zl, Zp.
            ("王\u{2028}五", false),
            ("王\u{2029}五", false),
            // Noncharacters and the replacement characters of a broken decoding.
            ("王\u{FDD0}", false),
            ("王\u{FFFE}", false),
            ("王\u{10FFFF}", false),
            ("王\u{FFFD}", false),
            ("王\u{FFFC}", false),
            // Fillers that render as nothing.
            ("\u{3164}", false),
            ("王\u{115F}", false),
            ("王\u{FFA0}", false),
            ("\u{2800}", false),
            // A combining mark with nothing before it.
            ("\u{301}王", false),
            ("\u{E0100}葛", false),
            // Empty, blank, too long.
            ("", false),
            (" ", false),
            ("\u{3000}", false),
            ("一二三四五六七八九十一二三四五六", true),
            ("一二三四五六七八九十一二三四五六七", false),
        ]);
    }

    #[test]
    fn issue12_the_message_says_where_and_what_without_the_text() {
        let err = check_text("name", "P1", "李\n四", NAME_CHARS_MAX).unwrap_err();
        assert_eq!(err.message, "name: character 2 (U+000A) is a control character (NUL, line feed, tab, …); name is printable text");
        let err = check_text("name", "P1", "\u{202E}王五", NAME_CHARS_MAX).unwrap_err();
        assert!(err.message.contains("character 1 (U+202E)") && !err.message.contains('王'), "{}", err.message);
    }

    #[test]
    fn issue12_optional_text_may_be_empty_but_not_bad() {
        assert!(check_optional_text("item name", "§9", "", ITEM_NAME_CHARS_MAX).is_ok());
        assert!(check_optional_text("item name", "§9", "阿莫西林胶囊 0.25g*24粒", ITEM_NAME_CHARS_MAX).is_ok());
        assert!(check_optional_text("item name", "§9", "阿莫西林\r\n", ITEM_NAME_CHARS_MAX).is_err());
    }

    #[test]
    fn issue12_st6_identifiers_are_printable_ascii_without_spaces() {
        for (value, accepted) in [
            ("b1", true),
            ("B1", true),
            ("2024-0301-001", true),
            ("MD20240301001-1", true),
            ("zy/0410.2#3", true),
            ("H33020000123", true),
            ("", false),
            ("b 1", false),
            ("b1\n", false),
            ("b\u{0}1", false),
            ("\u{202E}b1", false),
            ("单据1", false),
            ("ｂ1", false),
        ] {
            let result = check_identifier("bill_id", "ST6", value, IDENTIFIER_LEN_MAX);
            assert_eq!(result.is_ok(), accepted, "{value:?}: {result:?}");
        }
        assert!(check_identifier("bill_id", "ST6", &"b".repeat(64), IDENTIFIER_LEN_MAX).is_ok());
        let err = check_identifier("bill_id", "ST6", &"b".repeat(65), IDENTIFIER_LEN_MAX).unwrap_err();
        assert_eq!((err.code, err.rule), (ErrorCode::InputInvalid, "ST6"));
    }

    #[test]
    fn issue12_p1_psn_no_is_letters_digits_dash_underscore() {
        for (value, accepted) in [("A1", true), ("G00000001", true), ("p-1_x", true), ("", false), ("A.1", false), ("A\n", false), ("甲", false)] {
            assert_eq!(check_psn_no("psn_no", "P1", value).is_ok(), accepted, "{value:?}");
        }
        assert!(check_psn_no("psn_no", "P1", &"9".repeat(PSN_NO_LEN_MAX)).is_ok());
        assert!(check_psn_no("psn_no", "P1", &"9".repeat(PSN_NO_LEN_MAX + 1)).is_err());
    }

    #[test]
    fn issue12_p1_a_person_is_refused_for_a_bad_name_or_psn_no() {
        use crate::{AreaCode, IdNumber, InsuranceType, Person, PersonStatus};
        let person = |psn_no: &str, name: &str| Person {
            psn_no: psn_no.into(),
            name: name.into(),
            id_number: IdNumber::parse("11010519491231002X").unwrap(),
            area: AreaCode::parse("330200").unwrap(),
            insurance: InsuranceType::Employee,
            phone: None,
            status: PersonStatus::Normal,
        };
        assert!(person("A1", "阿依古丽·买买提").validate().is_ok());
        for (psn_no, name) in [("A1", "张\u{0}三"), ("A1", "李\n四"), ("A1", "\u{202E}王五"), ("A1", " "), ("A\n1", "张三"), ("A 1", "张三")] {
            let err = person(psn_no, name).validate().unwrap_err();
            assert_eq!((err.code, err.rule), (ErrorCode::InputInvalid, "P1"), "{psn_no:?} {name:?}");
        }
    }

    #[test]
    fn issue12_st6_a_bill_refuses_bad_ids_and_item_texts() {
        use crate::settlement::{Bill, BillContent, BillItem, ItemClass};
        use crate::{Money, VisitType};
        let item = |code: &str, name: &str| BillItem { code: code.into(), name: name.into(), amount: Money::yuan(10), class: ItemClass::A };
        let bill = |institution: &str, bill_id: &str, patient: &str, item: BillItem| Bill {
            institution: institution.into(),
            bill_id: bill_id.into(),
            patient: patient.into(),
            visit: VisitType::Outpatient,
            date: chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            content: BillContent::Items(vec![item]),
        };
        assert!(bill("H0001", "b-1", "B1", item("XJ01CRA075", "阿莫西林胶囊")).validate().is_ok());
        assert!(bill("H0001", "b-1", "B1", item("x", "")).validate().is_ok());
        for (bad, rule) in [
            (bill("H0001", "b\n1", "B1", item("x", "")), "ST6"),
            (bill("H0001", "", "B1", item("x", "")), "ST6"),
            (bill("H0001", "b 1", "B1", item("x", "")), "ST6"),
            (bill("H0001", &"b".repeat(65), "B1", item("x", "")), "ST6"),
            (bill("H\u{0}1", "b1", "B1", item("x", "")), "§9"),
            (bill("", "b1", "B1", item("x", "")), "§9"),
            (bill("H0001", "b1", "B\n1", item("x", "")), "§9"),
            (bill("H0001", "b1", "B1", item("x\r", "")), "§9"),
            (bill("H0001", "b1", "B1", item("", "")), "§9"),
            (bill("H0001", "b1", "B1", item("x", "阿莫西林\u{202E}")), "§9"),
        ] {
            let err = bad.validate().unwrap_err();
            assert_eq!((err.code, err.rule), (ErrorCode::InputInvalid, rule), "{bad:?}: {err}");
        }
    }
}
