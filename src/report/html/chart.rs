//! Charts as inline SVG, drawn with plotters: line charts on linear or log axes, log-log
//! histograms, heatmaps and stacked bars, each with a title, labelled axes and a legend.
//!
//! Every axis is drawn in linear coordinates that this module maps data onto (a log axis is
//! `log10` of the data), with tick positions and labels chosen here: plotters' own log axis
//! labels print float noise, and has no place for an exact zero, which a difference of two
//! floats often is. Zeros go on a row of their own below a log axis, labelled `0`.
//!
//! Series are told apart by dash pattern and marker as well as colour, and fills by lightness,
//! so a chart reads the same printed in grey. Drawing into a `String` does not fail in
//! practice; if plotters reports an error anyway, the chart becomes a line of text saying so.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::page::esc;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// A linear `f64` axis whose ticks sit exactly where this module puts them (plotters' own
/// choice of ticks cannot be told to keep to whole decades, nor leave a named place for 0).
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

fn ticked(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
    Ticked { lo, hi, ticks }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = limit.1 - limit.0;
        if self.hi == self.lo || span == 0 {
            return limit.0 + span / 2;
        }
        let t = ((*v - self.lo) / (self.hi - self.lo)).clamp(-1.0, 2.0);
        limit.0 + (f64::from(span) * t + 1e-3).floor() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

const FONT: &str = "sans-serif";
const TITLE_H: u32 = 30;
const LEGEND_ROW_H: u32 = 24;
const GRID: RGBColor = RGBColor(225, 225, 225);
const INK: RGBColor = RGBColor(30, 30, 30);

/// Full width and half width chart sizes, in SVG pixels (the page scales them to fit).
pub const WIDE: (u32, u32) = (1080, 380);
pub const HALF: (u32, u32) = (530, 330);

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    Solid,
    Dashed,
    /// No line: markers only.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    Circle,
    Triangle,
    Cross,
    Square,
}

/// One series' look. The palette below differs in lightness as well as hue.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: RGBColor,
    pub dash: Dash,
    pub marker: Marker,
    pub width: u32,
}

impl Style {
    pub const fn new(color: RGBColor, dash: Dash, marker: Marker) -> Self {
        Self {
            color,
            dash,
            marker,
            width: 2,
        }
    }
}

/// Dark blue, solid.
pub const S_BLUE: Style = Style::new(RGBColor(21, 63, 145), Dash::Solid, Marker::None);
/// Orange, dashed: drawn over [`S_BLUE`], the blue shows through the gaps where they coincide.
pub const S_ORANGE: Style = Style::new(RGBColor(230, 140, 0), Dash::Dashed, Marker::None);
/// Black square markers, no line.
pub const S_BLACK: Style = Style::new(RGBColor(20, 20, 20), Dash::None, Marker::Square);
/// Purple circles (a reference run's first series).
pub const S_PURPLE_DOTS: Style = Style::new(RGBColor(118, 42, 131), Dash::None, Marker::Circle);
/// Brown crosses (a reference run's second series).
pub const S_BROWN_CROSSES: Style = Style::new(RGBColor(166, 86, 40), Dash::None, Marker::Cross);

/// Fills for bars, from light to dark.
pub const F_LIGHT: RGBColor = RGBColor(158, 202, 225);
pub const F_DARK: RGBColor = RGBColor(165, 15, 21);

/// Linear or logarithmic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// `log10`; exact zeros on a row of their own, negative values not drawn.
    Log,
}

/// What an axis shows and how.
#[derive(Debug, Clone)]
pub struct Axis {
    /// With its unit, e.g. `"absolute error"` or `"time (s)"`.
    pub label: String,
    pub scale: Scale,
    /// Ticks only at whole numbers (steps, epochs, counts).
    pub integer: bool,
    /// Keep 0 inside a linear axis.
    pub include_zero: bool,
    /// Ticks of a log axis read `1`, `10`, `100`, ... instead of `1e0`, `1e1`, ...
    pub plain_powers: bool,
}

impl Axis {
    pub fn linear(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            scale: Scale::Linear,
            integer: false,
            include_zero: false,
            plain_powers: false,
        }
    }

    pub fn log(label: &str) -> Self {
        Self {
            scale: Scale::Log,
            ..Self::linear(label)
        }
    }

    pub fn integer(label: &str) -> Self {
        Self {
            integer: true,
            ..Self::linear(label)
        }
    }

    pub fn with_zero(mut self) -> Self {
        self.include_zero = true;
        self
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Line,
    /// A bar from the axis floor up to each point (counts per step).
    Bars,
}

/// One named series.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    pub kind: Kind,
}

impl Series {
    pub fn line(name: &str, points: Vec<(f64, f64)>, style: Style) -> Self {
        Self {
            name: name.to_owned(),
            points,
            style,
            kind: Kind::Line,
        }
    }

    pub fn bars(name: &str, points: Vec<(f64, f64)>, style: Style) -> Self {
        Self {
            kind: Kind::Bars,
            ..Self::line(name, points, style)
        }
    }
}

/// A reference line across the plot (a tolerance, a marked layer), with its label in the
/// legend.
#[derive(Debug, Clone)]
pub struct Rule {
    pub at: f64,
    /// Vertical (at an x value) or horizontal (at a y value).
    pub vertical: bool,
    pub name: String,
    pub color: RGBColor,
}

/// A line (or bar) chart.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
    pub size: (u32, u32),
    /// Tick labels for whole x values (layer names); others get numbers.
    pub x_names: Vec<String>,
    /// x values the axis must show even where no series has a point (a layer that could not
    /// be compared).
    pub x_extent: Vec<f64>,
}

impl LineChart {
    pub fn new(title: &str, x: Axis, y: Axis) -> Self {
        Self {
            title: title.to_owned(),
            x,
            y,
            series: Vec::new(),
            rules: Vec::new(),
            size: WIDE,
            x_names: Vec::new(),
            x_extent: Vec::new(),
        }
    }
}

/// `1`, `2` or `5` times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

/// An axis fitted to its data: drawing coordinates, ticks and their labels.
#[derive(Debug, Clone)]
struct Fitted {
    scale: Scale,
    lo: f64,
    hi: f64,
    /// Where exact zeros are drawn on a log axis.
    zero_at: Option<f64>,
    ticks: Vec<f64>,
    step: f64,
    integer: bool,
    plain_powers: bool,
}

impl Fitted {
    fn fit(axis: &Axis, values: &[f64]) -> Self {
        match axis.scale {
            Scale::Linear => Self::fit_linear(axis, values),
            Scale::Log => Self::fit_log(axis, values),
        }
    }

    fn fit_linear(axis: &Axis, values: &[f64]) -> Self {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if axis.include_zero {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            let pad = if axis.integer {
                1.0
            } else {
                (hi.abs() * 0.1).max(1e-12)
            };
            (lo, hi) = (lo - pad, hi + pad);
        }
        let mut step = nice_step((hi - lo) / 7.0);
        if axis.integer {
            step = step.max(1.0).round();
        }
        let first = (lo / step).ceil() * step;
        let ticks: Vec<f64> = (0..)
            .map(|i| first + f64::from(i) * step)
            .take_while(|t| *t <= hi + step * 1e-9)
            .take(40)
            .collect();
        // A little room around the data (room for a marker at a few whole numbers), none
        // below an axis that starts at 0.
        let pad = if axis.integer {
            ((hi - lo) * 0.03).max(0.15)
        } else {
            (hi - lo) * 0.03
        };
        let lo_pad = if axis.include_zero && lo == 0.0 {
            0.0
        } else {
            pad
        };
        Self {
            scale: Scale::Linear,
            lo: lo - lo_pad,
            hi: hi + pad,
            zero_at: None,
            ticks,
            step,
            integer: axis.integer,
            plain_powers: false,
        }
    }

    fn fit_log(axis: &Axis, values: &[f64]) -> Self {
        let positive = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
        let (min, max) = positive.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let has_zero = values.contains(&0.0);
        let (mut lo, mut hi) = if min.is_finite() {
            (min.log10().floor(), max.log10().ceil())
        } else {
            (-1.0, 0.0)
        };
        if hi <= lo {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 8.0).max(1.0).round();
        lo = (lo / step).floor() * step;
        hi = (hi / step).ceil() * step;
        let mut ticks: Vec<f64> = (0..)
            .map(|i| lo + f64::from(i) * step)
            .take_while(|t| *t <= hi + 1e-9)
            .take(60)
            .collect();
        let zero_at = has_zero.then_some(lo - step);
        if let Some(z) = zero_at {
            ticks.insert(0, z);
        }
        Self {
            scale: Scale::Log,
            lo: zero_at.map_or(lo, |z| z - step * 0.25),
            hi,
            zero_at,
            ticks,
            step,
            integer: false,
            plain_powers: axis.plain_powers,
        }
    }

    /// Where `v` is drawn; `None` where it cannot be (negative or non-finite on a log axis).
    fn map(&self, v: f64) -> Option<f64> {
        match self.scale {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log if v == 0.0 => self.zero_at,
            Scale::Log if v > 0.0 && v.is_finite() => Some(v.log10()),
            Scale::Log => None,
        }
    }

    /// The bottom of bars.
    fn floor(&self) -> f64 {
        match self.scale {
            Scale::Linear => 0f64.clamp(self.lo, self.hi),
            Scale::Log => self.lo,
        }
    }

    fn label(&self, t: f64) -> String {
        match self.scale {
            Scale::Log => {
                if self.zero_at.is_some_and(|z| (t - z).abs() < 1e-9) {
                    return "0".to_owned();
                }
                let k = t.round();
                if (t - k).abs() > 1e-9 {
                    return String::new();
                }
                power_label(k as i32, self.plain_powers)
            }
            Scale::Linear => {
                if self.integer {
                    return format!("{}", t.round() as i64);
                }
                linear_label(t, self.step)
            }
        }
    }
}

/// `10^k` as a tick label: `1e-7`, and `0.01` .. `1000` written out.
pub fn power_label(k: i32, plain: bool) -> String {
    match k {
        0 => "1".to_owned(),
        1..=3 => 10u64.pow(k as u32).to_string(),
        4 if plain => "10000".to_owned(),
        -2..=-1 => format!("{}", 10f64.powi(k)),
        _ => format!("1e{k}"),
    }
}

/// A value in a legend: `1e-5` for a power of ten, else three significant digits.
pub fn power_or_sci(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return format!("{v}");
    }
    let k = v.log10().round();
    if (v - 10f64.powf(k)).abs() <= v * 1e-9 {
        power_label(k as i32, false)
    } else {
        format!("{v:.2e}")
    }
}

/// A linear tick: as many decimals as the tick step needs.
fn linear_label(t: f64, step: f64) -> String {
    if t.abs() < step * 1e-6 {
        return "0".to_owned();
    }
    let a = t.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{t:.1e}");
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{t:.decimals$}")
}

/// Wraps plotters' output: an accessible label on the `<svg>`, or a note when drawing failed.
fn svg_of(size: (u32, u32), title: &str, draw: impl FnOnce(&Area<'_>) -> DrawResult) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        let r = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Into::into));
        r.map_err(|e| e.to_string())
    };
    match result {
        Ok(()) => buf.replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{}\" ", esc(title)),
            1,
        ),
        Err(e) => format!(
            "<p class=\"note\">The chart “{}” could not be drawn: {}</p>",
            esc(title),
            esc(&e)
        ),
    }
}

/// Text width estimate in pixels (plotters' own estimate without font files is similar).
fn text_width(s: &str, size: u32) -> i32 {
    (s.chars().count() as f64 * f64::from(size) * 0.56).ceil() as i32
}

/// The title band; returns the area below it.
fn title_band<'a>(root: &Area<'a>, title: &str) -> Result<Area<'a>, Box<dyn std::error::Error>> {
    let (band, rest) = root.split_vertically(TITLE_H);
    let w = band.dim_in_pixel().0 as i32;
    band.draw(&Text::new(
        title.to_owned(),
        (w / 2, TITLE_H as i32 / 2 + 2),
        TextStyle::from((FONT, 18, FontStyle::Bold).into_font())
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(rest)
}

/// One legend entry: a sample of the line or fill, and its name.
#[derive(Clone)]
enum Swatch {
    Line(Style),
    Fill(RGBColor),
    Rule(RGBColor),
}

/// Rows the legend needs at `width`.
fn legend_rows(items: &[(String, Swatch)], width: i32) -> u32 {
    let mut rows = 1;
    let mut x = 10;
    for (name, _) in items {
        let w = 40 + text_width(name, 14) + 22;
        if x + w > width && x > 10 {
            rows += 1;
            x = 10;
        }
        x += w;
    }
    rows
}

fn draw_marker(area: &Area<'_>, at: (i32, i32), style: Style) -> DrawResult {
    let s = ShapeStyle::from(&style.color).stroke_width(2);
    match style.marker {
        Marker::None => {}
        Marker::Circle => area.draw(&Circle::new(at, 4, s.filled()))?,
        Marker::Triangle => area.draw(&TriangleMarker::new(at, 5, s.filled()))?,
        Marker::Cross => area.draw(&Cross::new(at, 4, s))?,
        Marker::Square => area.draw(&Rectangle::new(
            [(at.0 - 3, at.1 - 3), (at.0 + 3, at.1 + 3)],
            s.filled(),
        ))?,
    }
    Ok(())
}

fn draw_path(area: &Area<'_>, points: Vec<(i32, i32)>, style: Style) -> DrawResult {
    let s = ShapeStyle::from(&style.color).stroke_width(style.width);
    match style.dash {
        Dash::Solid => area.draw(&PathElement::new(points, s))?,
        Dash::Dashed => area.draw(&DashedPathElement::new(points, 7, 5, s))?,
        Dash::None => {}
    }
    Ok(())
}

/// The legend band under the title; returns the area below it.
fn legend_band<'a>(
    area: &Area<'a>,
    items: &[(String, Swatch)],
) -> Result<Area<'a>, Box<dyn std::error::Error>> {
    if items.is_empty() {
        return Ok(area.clone());
    }
    let width = area.dim_in_pixel().0 as i32;
    let rows = legend_rows(items, width);
    let (band, rest) = area.split_vertically(rows * LEGEND_ROW_H + 4);
    let (mut x, mut y) = (10, LEGEND_ROW_H as i32 / 2 + 2);
    for (name, swatch) in items {
        let w = 40 + text_width(name, 14) + 22;
        if x + w > width && x > 10 {
            x = 10;
            y += LEGEND_ROW_H as i32;
        }
        match swatch {
            Swatch::Line(style) => {
                draw_path(&band, vec![(x, y), (x + 32, y)], *style)?;
                draw_marker(&band, (x + 16, y), *style)?;
            }
            Swatch::Fill(color) => {
                band.draw(&Rectangle::new(
                    [(x + 4, y - 6), (x + 28, y + 6)],
                    color.filled(),
                ))?;
                band.draw(&Rectangle::new(
                    [(x + 4, y - 6), (x + 28, y + 6)],
                    ShapeStyle::from(&INK).stroke_width(1),
                ))?;
            }
            Swatch::Rule(color) => {
                band.draw(&DashedPathElement::new(
                    vec![(x, y), (x + 32, y)],
                    4,
                    3,
                    ShapeStyle::from(color).stroke_width(2),
                ))?;
            }
        }
        band.draw(&Text::new(
            name.clone(),
            (x + 40, y),
            TextStyle::from((FONT, 14).into_font())
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += w;
    }
    Ok(rest)
}

/// Room for the y tick labels.
fn y_label_width(f: &Fitted) -> u32 {
    let widest = f
        .ticks
        .iter()
        .map(|t| text_width(&f.label(*t), 13))
        .max()
        .unwrap_or(20);
    (widest + 36).clamp(56, 240) as u32
}

/// Axes, grid and labels of a chart over fitted axes.
fn build_chart<'a, 'b>(
    area: &'a Area<'b>,
    x: &Fitted,
    y: &Fitted,
    x_label: &str,
    y_label: &str,
    x_names: &[String],
) -> Result<Chart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(6)
        .margin_right(18)
        .margin_top(6)
        .margin_bottom(4)
        .x_label_area_size(48)
        .y_label_area_size(y_label_width(y))
        .build_cartesian_2d(
            ticked(x.lo, x.hi, x.ticks.clone()),
            ticked(y.lo, y.hi, y.ticks.clone()),
        )?;
    let fx = |v: &f64| {
        let k = v.round();
        if !x_names.is_empty() && (v - k).abs() < 1e-9 && k >= 0.0 {
            return x_names.get(k as usize).cloned().unwrap_or_default();
        }
        x.label(*v)
    };
    let fy = |v: &f64| y.label(*v);
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .bold_line_style(GRID)
        .max_light_lines(0)
        .axis_style(INK)
        .draw()?;
    Ok(chart)
}

/// A line chart: series, reference lines, legend, title.
pub fn line_chart(c: &LineChart) -> String {
    let xs: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(c.rules.iter().filter(|r| r.vertical).map(|r| r.at))
        .chain(c.x_extent.iter().copied())
        .collect();
    let ys: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(c.rules.iter().filter(|r| !r.vertical).map(|r| r.at))
        .collect();
    let mut x_axis = c.x.clone();
    if c.series.iter().any(|s| s.kind == Kind::Bars) && x_axis.scale == Scale::Linear {
        x_axis.include_zero = false;
    }
    let mut y_axis = c.y.clone();
    if c.series.iter().any(|s| s.kind == Kind::Bars) && y_axis.scale == Scale::Linear {
        y_axis.include_zero = true;
    }
    let fx = Fitted::fit(&x_axis, &xs);
    let fy = Fitted::fit(&y_axis, &ys);
    let mut legend: Vec<(String, Swatch)> = c
        .series
        .iter()
        .map(|s| {
            let swatch = match s.kind {
                Kind::Line => Swatch::Line(s.style),
                Kind::Bars => Swatch::Fill(s.style.color),
            };
            (s.name.clone(), swatch)
        })
        .collect();
    legend.extend(
        c.rules
            .iter()
            .map(|r| (r.name.clone(), Swatch::Rule(r.color))),
    );
    svg_of(c.size, &c.title, |root| {
        let rest = title_band(root, &c.title)?;
        let plot = legend_band(&rest, &legend)?;
        let mut chart = build_chart(&plot, &fx, &fy, &c.x.label, &c.y.label, &c.x_names)?;
        for r in &c.rules {
            let (line, style) = if r.vertical {
                (
                    fx.map(r.at).map(|x| vec![(x, fy.lo), (x, fy.hi)]),
                    ShapeStyle::from(&r.color).stroke_width(2),
                )
            } else {
                (
                    fy.map(r.at).map(|y| vec![(fx.lo, y), (fx.hi, y)]),
                    ShapeStyle::from(&r.color).stroke_width(2),
                )
            };
            if let Some(line) = line {
                chart.draw_series(DashedLineSeries::new(line, 6, 4, style))?;
            }
        }
        for s in &c.series {
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|&(x, y)| Some((fx.map(x)?, fy.map(y)?)))
                .collect();
            let line_style = ShapeStyle::from(&s.style.color).stroke_width(s.style.width);
            match s.kind {
                Kind::Bars => {
                    let half = bar_half_width(&pts);
                    let floor = fy.floor();
                    chart.draw_series(pts.iter().map(|&(x, y)| {
                        Rectangle::new([(x - half, floor), (x + half, y)], s.style.color.filled())
                    }))?;
                }
                Kind::Line => {
                    match s.style.dash {
                        Dash::Solid => {
                            chart.draw_series(LineSeries::new(pts.clone(), line_style))?;
                        }
                        Dash::Dashed => {
                            chart.draw_series(DashedLineSeries::new(
                                pts.clone(),
                                7,
                                5,
                                line_style,
                            ))?;
                        }
                        Dash::None => {}
                    }
                    let mut st = s.style;
                    if pts.len() == 1 && st.marker == Marker::None {
                        // A line through one point draws nothing.
                        st.marker = Marker::Circle;
                    }
                    let m = ShapeStyle::from(&st.color).stroke_width(2);
                    match st.marker {
                        Marker::None => {}
                        Marker::Circle => {
                            chart
                                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, m.filled())))?;
                        }
                        Marker::Triangle => {
                            chart.draw_series(
                                pts.iter().map(|&p| TriangleMarker::new(p, 5, m.filled())),
                            )?;
                        }
                        Marker::Cross => {
                            chart.draw_series(pts.iter().map(|&p| Cross::new(p, 4, m)))?;
                        }
                        Marker::Square => {
                            chart.draw_series(pts.iter().map(|&p| {
                                EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], m.filled())
                            }))?;
                        }
                    }
                }
            }
        }
        Ok(())
    })
}

/// Half the width of bars at evenly spaced x values.
fn bar_half_width(pts: &[(f64, f64)]) -> f64 {
    let mut xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    let gap = xs
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    if gap.is_finite() { gap * 0.4 } else { 0.4 }
}

/// One bar of a histogram over `[lo, hi)`.
#[derive(Debug, Clone, Copy)]
pub struct HistBar {
    pub lo: f64,
    pub hi: f64,
    pub total: usize,
    /// Of `total`, how many broke the tolerance.
    pub beyond: usize,
}

/// A histogram on a log x axis and a log count axis, with exact zeros and non-finite values
/// as bars of their own at either end.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub bars: Vec<HistBar>,
    pub zero: (usize, usize),
    pub nonfinite: (usize, usize),
    pub rules: Vec<Rule>,
    pub plain_powers: bool,
    pub size: (u32, u32),
}

pub fn histogram(h: &Histogram) -> String {
    // x: log10 of the bin edges; the zero bar one step left of the first decade, non-finite
    // one step right of the last.
    let mut edges: Vec<f64> = h
        .bars
        .iter()
        .flat_map(|b| [b.lo, b.hi])
        .chain(h.rules.iter().map(|r| r.at))
        .filter(|v| *v > 0.0 && v.is_finite())
        .map(f64::log10)
        .collect();
    if edges.is_empty() {
        edges = vec![-1.0, 0.0];
    }
    let axis = Axis {
        plain_powers: h.plain_powers,
        ..Axis::log(&h.x_label)
    };
    let powers: Vec<f64> = edges.iter().map(|e| 10f64.powf(*e)).collect();
    let mut fx = Fitted::fit(&axis, &powers);
    let mut names: Vec<(f64, String)> = Vec::new();
    if h.zero.0 > 0 {
        let z = fx.lo - fx.step;
        fx.ticks.insert(0, z);
        names.push((z, "0".to_owned()));
        fx.lo = z - fx.step * 0.6;
    }
    if h.nonfinite.0 > 0 {
        let n = fx.hi + fx.step;
        fx.ticks.push(n);
        names.push((n, "NaN/inf".to_owned()));
        fx.hi = n + fx.step * 0.6;
    }
    fx.zero_at = None;
    let counts: Vec<f64> = h
        .bars
        .iter()
        .map(|b| b.total as f64)
        .chain([h.zero.0 as f64, h.nonfinite.0 as f64])
        .filter(|c| *c > 0.0)
        .collect();
    let y_axis = Axis {
        plain_powers: true,
        ..Axis::log("elements (count)")
    };
    let mut fy = Fitted::fit(&y_axis, &counts);
    fy.lo = -0.35;
    if fy.ticks.first().is_some_and(|t| *t < 0.0) {
        fy.ticks.retain(|t| *t >= 0.0);
    }
    let mut legend = vec![
        ("within tolerance".to_owned(), Swatch::Fill(F_LIGHT)),
        ("beyond tolerance".to_owned(), Swatch::Fill(F_DARK)),
    ];
    legend.extend(
        h.rules
            .iter()
            .map(|r| (r.name.clone(), Swatch::Rule(r.color))),
    );
    svg_of(h.size, &h.title, |root| {
        let rest = title_band(root, &h.title)?;
        let plot = legend_band(&rest, &legend)?;
        // Tick labels for the two special bars come through a formatter of their own.
        let fx_named = NamedTicks {
            fitted: fx.clone(),
            names: names.clone(),
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(6)
            .margin_right(18)
            .margin_top(6)
            .margin_bottom(4)
            .x_label_area_size(48)
            .y_label_area_size(y_label_width(&fy))
            .build_cartesian_2d(
                ticked(fx.lo, fx.hi, fx.ticks.clone()),
                ticked(fy.lo, fy.hi, fy.ticks.clone()),
            )?;
        let label_x = |v: &f64| fx_named.label(*v);
        let label_y = |v: &f64| fy.label(*v);
        chart
            .configure_mesh()
            .x_desc(&h.x_label)
            .y_desc("elements (count)")
            .x_label_formatter(&label_x)
            .y_label_formatter(&label_y)
            .axis_desc_style((FONT, 15))
            .label_style((FONT, 13))
            .bold_line_style(GRID)
            .max_light_lines(0)
            .axis_style(INK)
            .draw()?;
        let height = |n: usize| if n == 0 { fy.lo } else { (n as f64).log10() };
        let mut rects: Vec<Rectangle<(f64, f64)>> = Vec::new();
        let outline = ShapeStyle::from(&INK).stroke_width(1);
        let mut bar = |x0: f64, x1: f64, total: usize, beyond: usize| {
            if total == 0 {
                return;
            }
            rects.push(Rectangle::new(
                [(x0, fy.lo), (x1, height(total))],
                F_LIGHT.filled(),
            ));
            if beyond > 0 {
                rects.push(Rectangle::new(
                    [(x0, fy.lo), (x1, height(beyond))],
                    F_DARK.filled(),
                ));
            }
            rects.push(Rectangle::new([(x0, fy.lo), (x1, height(total))], outline));
        };
        for b in &h.bars {
            let (x0, x1) = (b.lo.log10(), b.hi.log10());
            let inset = (x1 - x0) * 0.06;
            bar(x0 + inset, x1 - inset, b.total, b.beyond);
        }
        for (pos, (total, beyond)) in names
            .iter()
            .map(|n| n.0)
            .zip([h.zero, h.nonfinite].into_iter().filter(|c| c.0 > 0))
        {
            let w = fx.step * 0.3;
            bar(pos - w, pos + w, total, beyond);
        }
        chart.draw_series(rects)?;
        for r in &h.rules {
            if r.at > 0.0 && r.at.is_finite() {
                let x = r.at.log10();
                chart.draw_series(DashedLineSeries::new(
                    vec![(x, fy.lo), (x, fy.hi)],
                    6,
                    4,
                    ShapeStyle::from(&r.color).stroke_width(2),
                ))?;
            }
        }
        Ok(())
    })
}

/// A fitted axis whose ticks at some positions carry names instead of numbers.
struct NamedTicks {
    fitted: Fitted,
    names: Vec<(f64, String)>,
}

impl NamedTicks {
    fn label(&self, v: f64) -> String {
        self.names
            .iter()
            .find(|(p, _)| (p - v).abs() < 1e-9)
            .map_or_else(|| self.fitted.label(v), |(_, n)| n.clone())
    }
}

/// A cell of a heatmap.
#[derive(Debug, Clone)]
pub struct Cell {
    pub row: usize,
    pub col: usize,
    /// The value coloured (positive on a log scale; 0 white); `None`: nothing to compare.
    pub value: Option<f64>,
    /// Written in the cell.
    pub text: String,
    /// Outside tolerance: a heavy border and the word in `text`.
    pub bad: bool,
}

/// Rows against columns, cells coloured on a log scale with a colour bar.
#[derive(Debug, Clone)]
pub struct Heatmap {
    pub title: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub row_label: String,
    pub col_label: String,
    pub cells: Vec<Cell>,
    /// The colour bar's label, with unit.
    pub value_label: String,
}

/// Light to dark blue; lightness falls monotonically, so grey prints keep the order.
const RAMP: [(u8, u8, u8); 5] = [
    (239, 243, 255),
    (189, 215, 238),
    (107, 174, 214),
    (33, 113, 181),
    (8, 48, 107),
];

/// The ramp at `t` in `[0, 1]`.
fn ramp(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let i = (t.floor() as usize).min(RAMP.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (RAMP[i], RAMP[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

pub fn heatmap(h: &Heatmap) -> String {
    let (nr, nc) = (h.rows.len().max(1), h.cols.len().max(1));
    let positive: Vec<f64> = h
        .cells
        .iter()
        .filter_map(|c| c.value)
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    let scale = Fitted::fit(&Axis::log(&h.value_label), &positive);
    let t_of = |v: f64| {
        if scale.hi > scale.lo {
            (v.log10() - scale.lo) / (scale.hi - scale.lo)
        } else {
            0.5
        }
    };
    let row_w = h.rows.iter().map(|r| text_width(r, 12)).max().unwrap_or(40);
    let width = 1080u32;
    let height = (TITLE_H + 110 + 56 * nr as u32).max(300);
    let legend = vec![
        ("0: identical".to_owned(), Swatch::Fill(WHITE)),
        (
            "n/a: not compared".to_owned(),
            Swatch::Fill(RGBColor(215, 215, 215)),
        ),
    ];
    svg_of((width, height), &h.title, |root| {
        let rest = title_band(root, &h.title)?;
        let rest = legend_band(&rest, &legend)?;
        let (main, bar) = rest.split_horizontally(width - 130);
        let names = |list: &[String]| -> Vec<(f64, String)> {
            list.iter()
                .enumerate()
                .map(|(i, n)| (i as f64 + 0.5, n.clone()))
                .collect()
        };
        let col_names = names(&h.cols);
        // Rows top to bottom: row r is drawn at y = nr - 1 - r.
        let row_names: Vec<(f64, String)> = h
            .rows
            .iter()
            .enumerate()
            .map(|(r, n)| ((nr - 1 - r) as f64 + 0.5, n.clone()))
            .collect();
        let mut chart = ChartBuilder::on(&main)
            .margin_left(6)
            .margin_right(10)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size((row_w + 40).clamp(80, 360) as u32)
            .build_cartesian_2d(
                ticked(0.0, nc as f64, col_names.iter().map(|c| c.0).collect()),
                ticked(0.0, nr as f64, row_names.iter().map(|c| c.0).collect()),
            )?;
        let fx = |v: &f64| {
            col_names
                .iter()
                .find(|c| (c.0 - v).abs() < 1e-9)
                .map_or(String::new(), |c| c.1.clone())
        };
        let fy = |v: &f64| {
            row_names
                .iter()
                .find(|c| (c.0 - v).abs() < 1e-9)
                .map_or(String::new(), |c| c.1.clone())
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&h.col_label)
            .y_desc(&h.row_label)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .axis_desc_style((FONT, 15))
            .label_style((FONT, 13))
            .axis_style(INK)
            .draw()?;
        let grey = RGBColor(215, 215, 215);
        for c in &h.cells {
            let (x0, y0) = (c.col as f64, (nr - 1 - c.row) as f64);
            let (fill, dark) = match c.value {
                None => (grey, false),
                Some(0.0) => (WHITE, false),
                Some(v) if !v.is_finite() => (RGBColor(0, 0, 0), true),
                Some(v) => {
                    let t = t_of(v);
                    (ramp(t), t > 0.55)
                }
            };
            let inset = 0.02;
            chart.draw_series([Rectangle::new(
                [
                    (x0 + inset, y0 + inset),
                    (x0 + 1.0 - inset, y0 + 1.0 - inset),
                ],
                fill.filled(),
            )])?;
            let border = if c.bad {
                ShapeStyle::from(&RGBColor(0, 0, 0)).stroke_width(4)
            } else {
                ShapeStyle::from(&RGBColor(150, 150, 150)).stroke_width(1)
            };
            chart.draw_series([Rectangle::new(
                [
                    (x0 + inset, y0 + inset),
                    (x0 + 1.0 - inset, y0 + 1.0 - inset),
                ],
                border,
            )])?;
            let color = if dark { WHITE } else { INK };
            for (k, line) in c.text.lines().enumerate() {
                let n = c.text.lines().count() as f64;
                let y = y0 + 0.5 + (n - 1.0) * 0.09 - k as f64 * 0.18;
                chart.draw_series([Text::new(
                    line.to_owned(),
                    (x0 + 0.5, y),
                    TextStyle::from((FONT, 13).into_font())
                        .color(&color)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )])?;
            }
        }
        // The colour bar.
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(6)
            .margin_bottom(52)
            .margin_right(6)
            .y_label_area_size(62)
            .build_cartesian_2d(
                ticked(0.0, 1.0, vec![]),
                ticked(scale.lo, scale.hi, scale.ticks.clone()),
            )?;
        let fz = |v: &f64| scale.label(*v);
        cb.configure_mesh()
            .disable_mesh()
            .y_desc(&h.value_label)
            .y_label_formatter(&fz)
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 13))
            .axis_style(INK)
            .draw()?;
        let n = 48;
        cb.draw_series((0..n).map(|i| {
            let a = scale.lo + (scale.hi - scale.lo) * f64::from(i) / f64::from(n);
            let b = scale.lo + (scale.hi - scale.lo) * f64::from(i + 1) / f64::from(n);
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                ramp(f64::from(i) / f64::from(n - 1)).filled(),
            )
        }))?;
        Ok(())
    })
}

/// One row of stacked horizontal bars.
#[derive(Debug, Clone)]
pub struct StackRow {
    pub name: String,
    /// One count per part, in the parts' order.
    pub counts: Vec<usize>,
}

/// Per category (an operator), the share of each part (pass, fail, ...) as one bar from 0 to
/// 100%, the category's count written after it; up to `panels` panels side by side.
#[derive(Debug, Clone)]
pub struct StackedBars {
    pub title: String,
    pub parts: Vec<(String, RGBColor)>,
    pub rows: Vec<StackRow>,
    pub panels: usize,
}

pub fn stacked_bars(s: &StackedBars) -> String {
    let panels = s.panels.clamp(1, 4).min(s.rows.len().max(1));
    let per_panel = s.rows.len().div_ceil(panels).max(1);
    let width = 1080u32;
    let legend: Vec<(String, Swatch)> = s
        .parts
        .iter()
        .map(|(n, c)| (n.clone(), Swatch::Fill(*c)))
        .collect();
    let height = TITLE_H + LEGEND_ROW_H + 74 + 16 * per_panel as u32;
    // 0..100%, with room on the right for the count.
    let fx = Fitted {
        scale: Scale::Linear,
        lo: 0.0,
        hi: 124.0,
        zero_at: None,
        ticks: vec![0.0, 50.0, 100.0],
        step: 50.0,
        integer: true,
        plain_powers: false,
    };
    let name_w = s
        .rows
        .iter()
        .map(|r| text_width(&r.name, 11))
        .max()
        .unwrap_or(40);
    svg_of((width, height), &s.title, |root| {
        let rest = title_band(root, &s.title)?;
        let rest = legend_band(&rest, &legend)?;
        let areas = rest.split_evenly((1, panels));
        for (p, area) in areas.iter().enumerate() {
            let rows: Vec<&StackRow> = s.rows.iter().skip(p * per_panel).take(per_panel).collect();
            if rows.is_empty() {
                continue;
            }
            let n = per_panel as f64;
            let names: Vec<(f64, String)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (n - 1.0 - i as f64 + 0.5, r.name.clone()))
                .collect();
            let mut chart = ChartBuilder::on(area)
                .margin_left(4)
                .margin_right(6)
                .margin_top(4)
                .x_label_area_size(40)
                .y_label_area_size((name_w + 14).clamp(50, 220) as u32)
                .build_cartesian_2d(
                    ticked(fx.lo, fx.hi, fx.ticks.clone()),
                    ticked(0.0, n, names.iter().map(|c| c.0).collect()),
                )?;
            let lx = |v: &f64| format!("{}%", v.round());
            let ly = |v: &f64| {
                names
                    .iter()
                    .find(|c| (c.0 - v).abs() < 1e-9)
                    .map_or(String::new(), |c| c.1.clone())
            };
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc("share of its cases")
                .x_label_formatter(&lx)
                .y_label_formatter(&ly)
                .axis_desc_style((FONT, 13))
                .label_style((FONT, 11))
                .bold_line_style(GRID)
                .max_light_lines(0)
                .axis_style(INK)
                .draw()?;
            for (i, r) in rows.iter().enumerate() {
                let y = n - 1.0 - i as f64;
                let total: usize = r.counts.iter().sum();
                let mut x = 0.0;
                for (k, &c) in r.counts.iter().enumerate() {
                    if c == 0 {
                        continue;
                    }
                    let w = 100.0 * c as f64 / total as f64;
                    let color = s.parts.get(k).map_or(INK, |p| p.1);
                    chart.draw_series([Rectangle::new(
                        [(x, y + 0.12), (x + w, y + 0.88)],
                        color.filled(),
                    )])?;
                    x += w;
                }
                chart.draw_series([Text::new(
                    total.to_string(),
                    (102.0, y + 0.5),
                    TextStyle::from((FONT, 11).into_font())
                        .color(&INK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )])?;
            }
        }
        Ok(())
    })
}

/// Groups of bars with their values written above (losses of model and reference).
#[derive(Debug, Clone)]
pub struct GroupedBars {
    pub title: String,
    pub y_label: String,
    pub groups: Vec<String>,
    /// Per bar kind: its name, fill, and one value per group (`None`: no bar).
    pub bars: Vec<(String, RGBColor, Vec<Option<f64>>)>,
    pub size: (u32, u32),
}

pub fn grouped_bars(g: &GroupedBars) -> String {
    let values: Vec<f64> = g
        .bars
        .iter()
        .flat_map(|b| b.2.iter().flatten().copied())
        .collect();
    let y_axis = Axis::linear(&g.y_label).with_zero();
    let mut fy = Fitted::fit(&y_axis, &values);
    fy.hi += (fy.hi - fy.lo) * 0.12;
    let ng = g.groups.len().max(1);
    let fx = Fitted {
        scale: Scale::Linear,
        lo: 0.0,
        hi: ng as f64,
        zero_at: None,
        ticks: (0..ng).map(|i| i as f64 + 0.5).collect(),
        step: 1.0,
        integer: false,
        plain_powers: false,
    };
    let legend: Vec<(String, Swatch)> = g
        .bars
        .iter()
        .map(|b| (b.0.clone(), Swatch::Fill(b.1)))
        .collect();
    svg_of(g.size, &g.title, |root| {
        let rest = title_band(root, &g.title)?;
        let plot = legend_band(&rest, &legend)?;
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(6)
            .margin_right(18)
            .margin_top(6)
            .x_label_area_size(40)
            .y_label_area_size(y_label_width(&fy))
            .build_cartesian_2d(
                ticked(fx.lo, fx.hi, fx.ticks.clone()),
                ticked(fy.lo, fy.hi, fy.ticks.clone()),
            )?;
        let lx = |v: &f64| {
            let i = (v - 0.5).round();
            if (v - 0.5 - i).abs() < 1e-9 && i >= 0.0 {
                g.groups.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let ly = |v: &f64| fy.label(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(&g.y_label)
            .x_label_formatter(&lx)
            .y_label_formatter(&ly)
            .axis_desc_style((FONT, 15))
            .label_style((FONT, 13))
            .bold_line_style(GRID)
            .max_light_lines(0)
            .axis_style(INK)
            .draw()?;
        let nb = g.bars.len().max(1) as f64;
        let w = 0.7 / nb;
        for (k, (_, color, vals)) in g.bars.iter().enumerate() {
            for (i, v) in vals.iter().enumerate() {
                let Some(v) = v.filter(|v| v.is_finite()) else {
                    continue;
                };
                let x0 = i as f64 + 0.15 + k as f64 * w;
                chart.draw_series([
                    Rectangle::new([(x0, 0.0), (x0 + w * 0.92, v)], color.filled()),
                    Rectangle::new(
                        [(x0, 0.0), (x0 + w * 0.92, v)],
                        ShapeStyle::from(&INK).stroke_width(1),
                    ),
                ])?;
                chart.draw_series([Text::new(
                    format!("{v:.6}"),
                    (x0 + w * 0.46, v),
                    TextStyle::from((FONT, 12).into_font())
                        .color(&INK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )])?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_whole_powers_labelled_without_float_noise() {
        let f = Fitted::fit(&Axis::log("x"), &[3e-9, 2e-6, 0.0]);
        assert_eq!(f.zero_at, Some(-10.0));
        assert_eq!(f.ticks, vec![-10.0, -9.0, -8.0, -7.0, -6.0, -5.0]);
        let labels: Vec<String> = f.ticks.iter().map(|t| f.label(*t)).collect();
        assert_eq!(labels, ["0", "1e-9", "1e-8", "1e-7", "1e-6", "1e-5"]);
        assert_eq!(f.map(0.0), Some(-10.0));
        assert_eq!(f.map(-1.0), None);
        // A wide range steps by whole decades of 5 or 10.
        let wide = Fitted::fit(&Axis::log("x"), &[1e-40, 1e30]);
        assert!(wide.ticks.len() <= 16, "{:?}", wide.ticks);
        assert!(wide.ticks.iter().all(|t| t.fract() == 0.0));
        assert_eq!(power_label(2, false), "100");
        assert_eq!(power_label(-2, false), "0.01");
        assert_eq!(power_label(4, true), "10000");
        assert_eq!(power_label(4, false), "1e4");
        assert_eq!(power_label(6, true), "1e6");
        assert_eq!(power_label(6, false), "1e6");
    }

    #[test]
    fn linear_ticks_have_the_decimals_their_step_needs() {
        let f = Fitted::fit(&Axis::linear("loss"), &[0.04, 0.69]);
        let labels: Vec<String> = f.ticks.iter().map(|t| f.label(*t)).collect();
        assert_eq!(labels, ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"]);
        let steps = Fitted::fit(&Axis::integer("step"), &[0.0, 239.0]);
        assert!(steps.ticks.iter().all(|t| t.fract() == 0.0));
        assert_eq!(steps.label(50.0), "50");
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
    }

    #[test]
    fn the_ramp_darkens_monotonically() {
        let lum = |c: RGBColor| {
            0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2)
        };
        let l: Vec<f64> = (0..=20).map(|i| lum(ramp(f64::from(i) / 20.0))).collect();
        assert!(l.windows(2).all(|w| w[1] < w[0]), "{l:?}");
    }

    #[test]
    fn a_chart_is_one_svg_with_its_title_and_legend() {
        let mut c = LineChart::new("Loss <per step>", Axis::integer("step"), Axis::log("loss"));
        c.series
            .push(Series::line("a", vec![(0.0, 1.0), (1.0, 0.0)], S_BLUE));
        c.rules.push(Rule {
            at: 0.5,
            vertical: false,
            name: "tolerance".into(),
            color: RGBColor(0, 0, 0),
        });
        let svg = line_chart(&c);
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label=\"Loss &lt;per step&gt;\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("tolerance"));
        assert_eq!(svg, line_chart(&c), "deterministic");
    }
}
