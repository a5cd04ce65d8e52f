//! A chart of one year of balances as inline SVG, drawn on the server: one step line per
//! account (CUR, HIS, MUT), from the balance on 1 January through each day's postings. Drawing
//! only: the balances come from the API's statement and the account's current balance; the
//! coordinates are integer arithmetic on fen (no floating point near money, P3).

use chrono::{Datelike, NaiveDate};
use maud::{html, Markup};

/// One line of the chart.
pub struct Series {
    /// `cur`, `his` or `mut`: also the CSS class of its colour in the legend.
    pub kind: &'static str,
    pub label: &'static str,
    pub colour: &'static str,
    /// Balance at the start of 1 January, in fen.
    pub opening: i64,
    /// (day, change in fen), in date order, within the year.
    pub changes: Vec<(NaiveDate, i64)>,
}

// A narrow drawing with large text, so that it stays readable when a phone shrinks it.
const WIDTH: i64 = 520;
const HEIGHT: i64 = 230;
const LEFT: i64 = 60;
const RIGHT: i64 = 10;
const TOP: i64 = 12;
const BOTTOM: i64 = 30;
const FONT: i64 = 15;

/// The chart of `year`, drawn through `through` (today, or 31 December for a past year).
pub fn year_chart(year: i32, through: NaiveDate, series: &[Series]) -> Markup {
    let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else { return html! {} };
    let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(first);
    let days = (last - first).num_days() + 1;
    if through < first {
        return html! { p.hint { (year) " 年还没有到。" } };
    }
    let end = (through.min(last) - first).num_days() + 1;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |day: i64| LEFT + day * plot_w / days;
    let steps: Vec<Vec<(i64, i64)>> = series.iter().map(|s| steps_of(first, s)).collect();
    let top = nice_ceiling(steps.iter().flatten().map(|(_, v)| *v).chain(series.iter().map(|s| s.opening)).max().unwrap_or(0));
    let y = |value: i64| TOP + ((top - value.clamp(0, top)) as i128 * plot_h as i128 / top as i128) as i64;
    let month_ticks: Vec<(i64, u32)> = (1..=12).filter_map(|m| NaiveDate::from_ymd_opt(year, m, 1)).map(|d| ((d - first).num_days(), d.month())).collect();
    let title_id = format!("chart-title-{year}");
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-labelledby=(title_id) preserveAspectRatio="xMidYMid meet" {
                title id=(title_id) { (year) " 年各账户余额走势（元）" }
                @for fraction in [0i64, 1, 2] {
                    @let value = top * fraction / 2;
                    line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(value)) y2=(y(value)) stroke="#d8dee4" stroke-width="1" {}
                    text x=(LEFT - 6) y=(y(value) + 5) text-anchor="end" font-size=(FONT) fill="#57606a" { (yuan_label(value)) }
                }
                @for (day, month) in &month_ticks {
                    line x1=(x(*day)) x2=(x(*day)) y1=(TOP + plot_h) y2=(TOP + plot_h + 4) stroke="#8c959f" stroke-width="1" {}
                    @if month % 2 == 1 {
                        text x=(x(*day) + 2) y=(HEIGHT - 8) font-size=(FONT) fill="#57606a" { (month) "月" }
                    }
                }
                // Each line narrower than the one before, so that equal balances stay visible.
                @for (index, (s, points)) in series.iter().zip(&steps).enumerate() {
                    path d=(path_of(s.opening, points, end, &x, &y)) fill="none" stroke=(s.colour) stroke-width=(line_width(index)) stroke-linejoin="round" data-account=(s.kind) {}
                }
            }
            figcaption.legend {
                @for s in series {
                    span.key { span class={ "swatch " (s.kind) } {} (s.label) }
                }
            }
        }
    }
}

fn line_width(index: usize) -> &'static str {
    ["6", "4", "2"].get(index).copied().unwrap_or("2")
}

/// (day index, balance after that day's postings), one point per day with postings.
fn steps_of(first: NaiveDate, series: &Series) -> Vec<(i64, i64)> {
    let mut balance = series.opening;
    let mut points: Vec<(i64, i64)> = Vec::new();
    for (day, change) in &series.changes {
        balance += change;
        let index = (*day - first).num_days();
        match points.last_mut() {
            Some(last) if last.0 == index => last.1 = balance,
            _ => points.push((index, balance)),
        }
    }
    points
}

fn path_of(opening: i64, points: &[(i64, i64)], end: i64, x: &dyn Fn(i64) -> i64, y: &dyn Fn(i64) -> i64) -> String {
    let mut d = format!("M{} {}", x(0), y(opening));
    for (day, value) in points.iter().filter(|(day, _)| *day < end) {
        d.push_str(&format!(" H{} V{}", x(*day), y(*value)));
    }
    d.push_str(&format!(" H{}", x(end)));
    d
}

/// The smallest 1, 2 or 5 × 10^k fen at or above `max` (at least 100.00 yuan).
fn nice_ceiling(max: i64) -> i64 {
    let mut scale: i64 = 100;
    loop {
        for step in [1, 2, 5] {
            let candidate = step * scale;
            if candidate >= max && candidate >= 10_000 {
                return candidate;
            }
        }
        scale = scale.saturating_mul(10);
        if scale > i64::MAX / 10 {
            return max.max(1);
        }
    }
}

fn yuan_label(fen: i64) -> String {
    if fen % 100 == 0 {
        format!("{}", fen / 100)
    } else {
        format!("{}.{:02}", fen / 100, fen % 100)
    }
}

#[cfg(test)]
// Amounts in fen are written yuan_fen (`100_00` is 100.00 yuan).
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn steps_follow_the_postings_day_by_day() {
        let series = Series {
            kind: "his",
            label: "历年账户",
            colour: "#000",
            opening: 100_00,
            changes: vec![(day("2024-03-01"), 50_00), (day("2024-03-01"), -20_00), (day("2024-06-01"), -130_00)],
        };
        assert_eq!(steps_of(day("2024-01-01"), &series), vec![(60, 130_00), (152, 0)]);
    }

    #[test]
    fn the_scale_is_a_round_number_above_the_largest_balance() {
        assert_eq!(nice_ceiling(0), 10_000);
        assert_eq!(nice_ceiling(150_000), 200_000);
        assert_eq!(nice_ceiling(200_000), 200_000);
        assert_eq!(nice_ceiling(200_001), 500_000);
        assert_eq!(yuan_label(150_000), "1500");
        assert_eq!(yuan_label(1_50), "1.50");
    }

    #[test]
    fn the_chart_is_svg_with_one_line_per_account() {
        let series = [
            Series { kind: "his", label: "历年账户", colour: "#1f6feb", opening: 1000_00, changes: vec![(day("2024-03-01"), -500_00)] },
            Series { kind: "mut", label: "共济账户", colour: "#e8590c", opening: 0, changes: vec![(day("2024-03-01"), 500_00)] },
        ];
        let svg = year_chart(2024, day("2024-12-31"), &series).into_string();
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("data-account=\"mut\""));
        assert!(svg.contains(">1000<"), "the scale reaches 1000 yuan: {svg}");
        assert!(year_chart(2030, day("2024-12-31"), &series).into_string().contains("还没有到"));
    }
}
