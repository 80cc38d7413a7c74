//! The HTML report: one self-contained page (no script, font or image from the network; a
//! Content-Security-Policy says so to the browser) rendered with a minijinja template, with charts
//! drawn by plotters as inline SVG, laid out to print on A4.

use super::model::{Day, Report};
use crate::domain::Category;
use minijinja::Environment;
use plotters::prelude::*;
use strum::IntoEnumIterator;

const TEMPLATE: &str = include_str!("templates/report.html");
const SIZE: (u32, u32) = (720, 260);
/// Width of the legend, drawn right of the plot so that it never covers a line or a bar (the
/// newest day, where purges and erasures land, is at the right edge).
const LEGEND_WIDTH: u32 = 120;

/// Chart colours per category, and for removals and deadlines.
fn colour(category: Category) -> RGBColor {
    match category {
        Category::PhoneNumber => RGBColor(26, 115, 232),
        Category::Text => RGBColor(217, 48, 37),
        Category::Media => RGBColor(249, 171, 0),
        Category::Metadata => RGBColor(30, 142, 62),
    }
}

/// Renders the report as an HTML page.
pub fn render(report: &Report) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    let charts = minijinja::context! {
        held => held_chart(&report.daily),
        removals => removals_chart(&report.daily),
        deadlines => deadlines_chart(&report.daily),
    };
    env.get_template("report.html")?
        .render(minijinja::context! { r => report, charts => charts })
}

fn max_of(values: impl Iterator<Item = u64>) -> u64 {
    values.max().unwrap_or(0).max(1)
}

/// A chart into an SVG string; a drawing error becomes a note in its place.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult<'a> = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn svg(title: &str, draw: impl for<'a> FnOnce(&Area<'a>) -> DrawResult<'a>) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root).map_err(|e| e.to_string()));
        drawn.and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => out.replacen(
            "<svg ",
            &format!(
                "<svg role=\"img\" aria-label=\"{title}\" viewBox=\"0 0 {} {}\" ",
                SIZE.0, SIZE.1
            ),
            1,
        ),
        Err(e) => format!("<p class=\"note\">chart unavailable: {e}</p>"),
    }
}

fn day_range(days: &[Day]) -> std::ops::Range<i32> {
    0..(days.len().max(2) as i32 - 1)
}

fn label(days: &[Day], i: &i32) -> String {
    days.get(*i as usize)
        .map(|d| d.date.format("%m-%d").to_string())
        .unwrap_or_default()
}

/// How a series looks in the legend.
enum Swatch {
    Line,
    Block,
}

/// The legend in `area`, beside the plot: a swatch and a name per series.
fn legend<'a>(area: &Area<'a>, entries: &[(String, RGBColor, Swatch)]) -> DrawResult<'a> {
    for (i, (name, colour, swatch)) in entries.iter().enumerate() {
        let y = 18 + 18 * i as i32;
        match swatch {
            Swatch::Line => area.draw(&PathElement::new(
                vec![(8, y), (26, y)],
                colour.stroke_width(2),
            ))?,
            Swatch::Block => {
                area.draw(&Rectangle::new([(11, y - 5), (23, y + 5)], colour.filled()))?
            }
        }
        area.draw(&Text::new(name.clone(), (32, y - 7), ("sans-serif", 13)))?;
    }
    Ok(())
}

fn held_chart(days: &[Day]) -> String {
    svg("values held per category", |root| {
        let (plot, key) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let top = max_of(days.iter().flat_map(|d| d.held.values().copied()));
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(day_range(days), 0u64..top + top / 10 + 1)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| label(days, i))
            .y_labels(5)
            .light_line_style(WHITE)
            .draw()?;
        for category in Category::iter() {
            chart.draw_series(LineSeries::new(
                days.iter()
                    .enumerate()
                    .map(|(i, d)| (i as i32, d.held.get(&category).copied().unwrap_or(0))),
                colour(category).stroke_width(2),
            ))?;
        }
        let entries: Vec<_> = Category::iter()
            .map(|c| (c.to_string(), colour(c), Swatch::Line))
            .collect();
        legend(&key, &entries)
    })
}

/// Two bars per day, side by side: `a` left, `b` right.
fn paired_bars(
    title: &str,
    days: &[Day],
    a: (&str, RGBColor, fn(&Day) -> u64),
    b: (&str, RGBColor, fn(&Day) -> u64),
) -> String {
    svg(title, |root| {
        let (plot, key) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let top = max_of(days.iter().flat_map(|d| [a.2(d), b.2(d)]));
        let n = days.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(24)
            .y_label_area_size(56)
            .build_cartesian_2d(0..n * 3, 0u64..top + top / 10 + 1)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| label(days, &(i / 3)))
            .y_labels(5)
            .light_line_style(WHITE)
            .draw()?;
        for (offset, (_, colour, value)) in [(0, a), (1, b)] {
            chart.draw_series(days.iter().enumerate().map(|(i, d)| {
                let x = i as i32 * 3 + offset;
                Rectangle::new([(x, 0), (x + 1, value(d))], colour.filled())
            }))?;
        }
        legend(
            &key,
            &[
                (a.0.to_string(), a.1, Swatch::Block),
                (b.0.to_string(), b.1, Swatch::Block),
            ],
        )
    })
}

fn removals_chart(days: &[Day]) -> String {
    paired_bars(
        "values purged and erased per day",
        days,
        ("purged", RGBColor(95, 99, 104), |d| d.purged),
        ("erased", RGBColor(161, 66, 244), |d| d.erased),
    )
}

fn deadlines_chart(days: &[Day]) -> String {
    paired_bars(
        "erasure requests completed on time and late per day",
        days,
        ("on time", RGBColor(30, 142, 62), |d| d.erasures_on_time),
        ("late", RGBColor(217, 48, 37), |d| d.erasures_late),
    )
}
