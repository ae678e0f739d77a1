//! Flags several commands share, and the one way a report leaves the process.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::artifacts;
use crate::metrics::{Preset, Tolerance};
use crate::report::{self, Report, ReportKind};
use crate::runtime::RuntimeKind;

/// `--tolerance PRESET`: the preset names, parsed into the library's [`Preset`].
pub(super) fn preset_parser() -> impl TypedValueParser<Value = Preset> {
    PossibleValuesParser::new(Preset::ALL.map(Preset::name)).map(|name| {
        name.parse::<Preset>()
            .expect("only preset names pass the parser")
    })
}

/// `--runtime NAME` (and the compare sides' flags): the runtimes that run any ONNX file.
pub(super) fn runtime_parser() -> impl TypedValueParser<Value = RuntimeKind> {
    PossibleValuesParser::new(RuntimeKind::ALL.map(RuntimeKind::name)).map(|name| {
        name.parse::<RuntimeKind>()
            .expect("only runtime names pass the parser")
    })
}

/// Fails (exit 2, one line saying how to install it) when `kind` is not available here, before
/// any model is opened.
pub(super) fn require(kind: RuntimeKind) -> Result<()> {
    kind.runtime()?;
    Ok(())
}

/// `--format NAME`: the formats whose renderer has a rendering of `kind`'s report, straight from
/// the registry in [`crate::report::FORMATS`], so a new format appears here by itself.
pub(super) fn format_parser(kind: ReportKind) -> PossibleValuesParser {
    PossibleValuesParser::new(report::formats_for(kind))
}

pub(super) fn non_negative(flag: &str, v: f64) -> Result<f64> {
    if !(v.is_finite() && v >= 0.0) {
        bail!("{flag}: must be a finite number >= 0, got {v}");
    }
    Ok(v)
}

/// `--tolerance`, `--atol`, `--rtol` and `--allow-nonfinite`, shared by every command that
/// compares tensors.
#[derive(Debug, Args)]
pub(super) struct ToleranceArgs {
    /// Tolerance preset (exact, strict, default, relaxed, loose; see README).
    #[arg(long, value_parser = preset_parser(), default_value = "default")]
    tolerance: Preset,
    /// Absolute tolerance, overriding the preset's.
    #[arg(long, value_name = "ATOL")]
    atol: Option<f64>,
    /// Relative tolerance, overriding the preset's.
    #[arg(long, value_name = "RTOL")]
    rtol: Option<f64>,
    /// Let NaN/inf pass where both sides hold the same non-finite value.
    #[arg(long)]
    allow_nonfinite: bool,
}

impl ToleranceArgs {
    /// The tolerance with its label for reports (the preset's name, marked when --atol/--rtol
    /// override it).
    pub(super) fn resolve(&self) -> Result<(Tolerance, String)> {
        let p = self.tolerance.tolerance();
        let tolerance = Tolerance {
            atol: non_negative("--atol", self.atol.unwrap_or(p.atol))?,
            rtol: non_negative("--rtol", self.rtol.unwrap_or(p.rtol))?,
            allow_nonfinite: self.allow_nonfinite,
        };
        let name = if self.atol.is_some() || self.rtol.is_some() {
            format!("{} with --atol/--rtol", self.tolerance.name())
        } else {
            self.tolerance.name().to_owned()
        };
        Ok((tolerance, name))
    }
}

/// `--html FILE`, flattened into every command whose report has an HTML page.
#[derive(Debug, Args)]
pub(super) struct HtmlArg {
    /// Also write the report as one self-contained HTML page (charts inline, nothing fetched)
    /// to FILE.
    #[arg(long, value_name = "FILE", value_parser = new_file)]
    html: Option<PathBuf>,
}

impl HtmlArg {
    /// Whether an HTML page will be made (`--html`, or `--format html`): the library then keeps
    /// what the page's charts need.
    pub(super) fn wanted(&self, format: &str) -> bool {
        self.html.is_some() || format == "html"
    }

    pub(super) fn path(&self) -> Option<&Path> {
        self.html.as_deref()
    }
}

/// A file to write: its folder must exist and it must not be a folder (checked before any long
/// run starts).
fn new_file(s: &str) -> Result<PathBuf> {
    let path = PathBuf::from(s);
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.is_dir() {
        bail!("{s} is a folder, not a file");
    }
    if !parent.is_dir() {
        bail!("folder {} does not exist", parent.display());
    }
    Ok(path)
}

/// Writes the report in `format` to stdout; with `file`, writes that format to the file and
/// the text report to stdout. With `html`, the HTML page goes to that file as well.
pub(super) fn emit(
    report: Report<'_>,
    format: &str,
    file: Option<&Path>,
    html: Option<&Path>,
) -> Result<()> {
    if let Some(path) = html {
        artifacts::write_file(path, &report::render("html", &report)?)
            .with_context(|| format!("--html {}", path.display()))?;
    }
    let rendered = report::render(format, &report)?;
    let mut stdout = std::io::stdout();
    match file {
        Some(path) => {
            std::fs::write(path, rendered)
                .with_context(|| format!("--report: writing {}", path.display()))?;
            stdout.write_all(&report::render("text", &report)?)?;
        }
        None => stdout.write_all(&rendered)?,
    }
    Ok(())
}
