//! Self-contained HTML pages for `report --html` and `sweep --html`: the figures
//! table, the violations with their replay commands, and charts drawn with plotters'
//! SVG backend and inlined into the page (no network, no script needed to open it).
//! The page itself comes from a minijinja template (`sim/templates/page.html`).

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use crate::metrics::Dist;
use crate::outcome::{Outcome, Table};

const TEMPLATE: &str = include_str!("../templates/page.html");
const W: u32 = 960;
const H: u32 = 420;

#[derive(Serialize)]
struct Chart {
    title: String,
    note: String,
    svg: String,
}

#[derive(Serialize)]
struct Page<'a> {
    title: &'a str,
    subtitle: String,
    table: &'a Table,
    failures: &'a [String],
    charts: Vec<Chart>,
    definitions: Vec<&'static str>,
}

const DEFINITIONS: [&str; 8] = [
    "Failover: a node becomes leader (an election won, or a ZooKeeper-WAL takeover) during the fault phase, other than the run's first leader; leader changes with no acknowledged write between them count once.",
    "Unavailability per failover: the gap between the last write acknowledged before the leader change and the first acknowledged after it, counting only instants at which some client was trying to write.",
    "Availability: the share of fault-phase time in which a write invoked then was acknowledged within the client's operation timeout (each write stands for the time until the next write was invoked, at most one timeout).",
    "Write latency: invocation to acknowledgement of each acknowledged write, retries included.",
    "ZooKeeper ops per write: transactions, reads and syncs served, over the writes acknowledged; bytes per write: request plus reply bytes on the wire (pings included); bytes held at most: the peak size of the data tree (data plus paths).",
    "Total-loss recovery: from the instant every node was down to the first write acknowledged after a node returned; 'after a return' is the part from that return.",
    "Percentiles come from HDR histograms (3 significant digits); maxima are exact.",
    "Failover phases: each failover's unavailability cut at milestones, so the phases add up to it exactly: before fault (last ack to the old leader's stop: crash, pause, cut off, stepped down), detection (to the future leader's first takeover read, or its first campaign for raft), takeover (WAL read: epoch bump, sync, read, append), election (campaigns, lost ones included), client retry (leadership to its first accepted client write), first commit (to the first ack); the instants in any of them at which no node could serve (the ceiling's definition) are set apart as 'unservable'.",
];

fn render(page: &Page) -> Result<String, String> {
    render_template("page.html", TEMPLATE, page)
}

/// Renders a minijinja template (named `name`, which decides its auto-escaping) with
/// `ctx`; errors name the template.
pub(crate) fn render_template(
    name: &str,
    source: &str,
    ctx: &impl Serialize,
) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.add_template(name, source)
        .map_err(|e| format!("{name} template: {e}"))?;
    env.get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(ctx)))
        .map_err(|e| format!("{name} template: {e}"))
}

/// Draws into an SVG document of `W` x `H` and returns it as a string.
fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// Series colours (the "tab10" set): ten, so that the seven failover phases stacked in
/// one bar never share a colour (with six, the first and the seventh did).
fn color(i: usize) -> RGBColor {
    const C: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

fn err(e: impl std::fmt::Display) -> String {
    format!("chart: {e}")
}

/// The cumulative distributions of `series` (name, distribution) on a log time axis.
fn cdf_chart(x_desc: &str, series: &[(String, &Dist)]) -> Result<String, String> {
    let hi = series
        .iter()
        .filter_map(|(_, d)| d.max())
        .max()
        .unwrap_or(1)
        .max(10) as f64
        * 1.5;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((1f64..hi).log_scale(), 0f64..1.02f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("share at or below")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(err)?;
        let mut any = false;
        for (i, (name, d)) in series.iter().enumerate() {
            let pts = d.cdf();
            if pts.is_empty() {
                continue;
            }
            any = true;
            let mut stairs = Vec::with_capacity(2 * pts.len() + 1);
            let mut last = 0.0;
            for (v, share) in pts {
                let x = (v as f64).max(1.0);
                stairs.push((x, last));
                stairs.push((x, share));
                last = share;
            }
            let c = color(i);
            let label = format!("{name} (n={})", d.count());
            chart
                .draw_series(LineSeries::new(stairs, c.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        if any {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font(("sans-serif", 14))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        } else {
            root.draw(&Text::new(
                "nothing measured",
                (W as i32 / 2 - 60, H as i32 / 2),
                ("sans-serif", 18),
            ))
            .map_err(err)?;
        }
        Ok(())
    })
}

/// Lines of `series` (name, one value per x) against the option's values.
fn value_chart(
    x_desc: &str,
    values: &[String],
    y_desc: &str,
    series: &[(&str, Vec<Option<f64>>)],
) -> Result<String, String> {
    let numeric: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
    let xs: Vec<f64> = numeric
        .clone()
        .unwrap_or_else(|| (0..values.len()).map(|i| i as f64).collect());
    let (x_lo, x_hi) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let pad = ((x_hi - x_lo) * 0.05).max(0.5);
    let y_hi = series
        .iter()
        .flat_map(|(_, ys)| ys.iter().flatten())
        .fold(0f64, |a, &y| a.max(y))
        .max(1.0)
        * 1.25;
    let labels: Vec<String> = values.to_vec();
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((x_lo - pad)..(x_hi + pad), 0f64..y_hi)
            .map_err(err)?;
        let is_numeric = numeric.is_some();
        let fmt_x = move |x: &f64| {
            if is_numeric {
                format!("{x:.0}")
            } else {
                label_at(&labels, *x)
            }
        };
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&|y| {
                if y_hi < 10.0 {
                    format!("{y:.1}")
                } else {
                    format!("{y:.0}")
                }
            })
            .draw()
            .map_err(err)?;
        for (i, (name, ys)) in series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .zip(ys)
                .filter_map(|(&x, y)| y.map(|y| (x, y)))
                .collect();
            let c = color(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// The label of a categorical x axis at `x`: the label whose index `x` is, and none
/// between two (plotters asks for ticks at fractional positions too).
fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

/// One stacked bar per outcome (`labels`): each failover phase's value (`phases.rs`,
/// `NAMES` order) on top of the one before, for `pick` of the phase's summary (p50,
/// p99, or the share of all unavailability in %).
fn phase_chart(
    labels: &[String],
    outcomes: &[Outcome],
    y_desc: &str,
    pick: fn(&crate::metrics::PhaseQuantiles) -> Option<f64>,
) -> Result<String, String> {
    let stacks: Vec<[f64; 7]> = outcomes
        .iter()
        .map(|o| {
            let s = o.totals.figures.failover_phases_ms.summary();
            s.values().map(|q| pick(&q).unwrap_or(0.0))
        })
        .collect();
    let y_hi = stacks
        .iter()
        .map(|s| s.iter().sum::<f64>())
        .fold(0f64, f64::max)
        .max(1.0)
        * 1.15;
    let n = labels.len().max(1);
    let names: Vec<String> = labels.to_vec();
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .right_y_label_area_size(0)
            .build_cartesian_2d(-0.5f64..(n as f64 + 1.5), 0f64..y_hi)
            .map_err(err)?;
        let fmt_x = move |x: &f64| label_at(&names, *x);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 5)
            .x_desc("")
            .y_desc(y_desc)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(err)?;
        for (k, name) in crate::phases::NAMES.iter().enumerate() {
            let c = color(k);
            let bars: Vec<Rectangle<(f64, f64)>> = stacks
                .iter()
                .enumerate()
                .filter(|(_, s)| s[k] > 0.0)
                .map(|(i, s)| {
                    let below: f64 = s[..k].iter().sum();
                    let x = i as f64;
                    Rectangle::new([(x - 0.3, below), (x + 0.3, below + s[k])], c.filled())
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    })
}

/// The failover-phase charts of a page: p50, p99 and share, one stacked bar per outcome.
fn phase_charts(labels: &[String], outcomes: &[Outcome]) -> Result<Vec<Chart>, String> {
    let note = "One bar per column of the table, each failover phase (phases.rs) stacked on the one before. A phase's percentile is over every failover, so the stacked percentiles need not add up to the unavailability's percentile; the shares do add up to 100% of all failovers' unavailability.";
    type Pick = fn(&crate::metrics::PhaseQuantiles) -> Option<f64>;
    let charts: [(&str, &str, Pick); 3] = [
        ("p50", "p50 of each phase (virtual ms)", |q| {
            q.quantiles.p50.map(|v| v as f64)
        }),
        ("p99", "p99 of each phase (virtual ms)", |q| {
            q.quantiles.p99.map(|v| v as f64)
        }),
        (
            "share of all unavailability",
            "share of all failovers' unavailability (%)",
            |q| q.share.map(|v| 100.0 * v),
        ),
    ];
    charts
        .into_iter()
        .map(|(what, y_desc, pick)| {
            Ok(Chart {
                title: format!("Failover phases, {what}"),
                note: note.into(),
                svg: phase_chart(labels, outcomes, y_desc, pick)?,
            })
        })
        .collect()
}

/// The `report --html` page: the side-by-side table and, per variant, the
/// distributions of unavailability per failover, write latency and total-loss recovery.
pub fn report_page(
    title: &str,
    note: &str,
    table: &Table,
    failures: &[String],
    outcomes: &[Outcome],
) -> Result<String, String> {
    let pick = |f: fn(&Outcome) -> &Dist| -> Vec<(String, &Dist)> {
        outcomes
            .iter()
            .map(|o| (o.variant.name().to_string(), f(o)))
            .collect()
    };
    let mut charts = vec![
        Chart {
            title: "Unavailability per failover".into(),
            note: "Cumulative distribution over every failover of every seed, per variant (log scale).".into(),
            svg: cdf_chart(
                "unavailability per failover (virtual ms)",
                &pick(|o| &o.totals.figures.unavailability_ms),
            )?,
        },
        Chart {
            title: "Write latency".into(),
            note: "Cumulative distribution of acknowledged writes' latency, retries included (log scale).".into(),
            svg: cdf_chart(
                "write latency (virtual ms)",
                &pick(|o| &o.totals.figures.write_latency_ms),
            )?,
        },
        Chart {
            title: "Total-loss recovery".into(),
            note: "From the instant every node was down to the first write acknowledged after a node returned (log scale).".into(),
            svg: cdf_chart(
                "total-loss recovery (virtual ms)",
                &pick(|o| &o.totals.figures.total_loss_recovery_ms),
            )?,
        },
    ];
    let names: Vec<String> = outcomes
        .iter()
        .map(|o| o.variant.name().to_string())
        .collect();
    charts.extend(phase_charts(&names, outcomes)?);
    render(&Page {
        title,
        subtitle: format!("Side by side: {note}. Figures are measured from the clients' side, over the seeds that ran to the end without a violation."),
        table,
        failures,
        charts,
        definitions: DEFINITIONS.to_vec(),
    })
}

/// The `sweep --html` page: the table per value and charts of downtime per failover
/// (p50, p99) and availability against the value.
#[allow(clippy::too_many_arguments)]
pub fn sweep_page(
    title: &str,
    notes: &[String],
    name: &str,
    values: &[String],
    table: &Table,
    failures: &[String],
    outcomes: &[Outcome],
) -> Result<String, String> {
    let q = |f: fn(&crate::metrics::Summary) -> Option<u64>| -> Vec<Option<f64>> {
        outcomes
            .iter()
            .map(|o| f(&o.totals.figures.summary()).map(|v| v as f64))
            .collect()
    };
    let availability: Vec<Option<f64>> = outcomes
        .iter()
        .map(|o| o.totals.figures.availability().map(|a| 100.0 * a))
        .collect();
    let violations: Vec<Option<f64>> = outcomes
        .iter()
        .map(|o| Some(o.totals.violations.len() as f64))
        .collect();
    let mut charts = vec![
        Chart {
            title: format!("Downtime per failover against {name}"),
            note: "Unavailability per failover, p50 and p99 over every failover of every seed, at each value.".into(),
            svg: value_chart(
                name,
                values,
                "unavailability per failover (virtual ms)",
                &[
                    ("p50", q(|s| s.unavailability_ms.p50)),
                    ("p99", q(|s| s.unavailability_ms.p99)),
                ],
            )?,
        },
        Chart {
            title: format!("Availability against {name}"),
            note: "Share of fault-phase time in which a write invoked then was acknowledged within the client's timeout.".into(),
            svg: value_chart(name, values, "availability (%)", &[("availability", availability)])?,
        },
        Chart {
            title: format!("Violations against {name}"),
            note: "Seeds that violated an invariant, at each value.".into(),
            svg: value_chart(name, values, "seeds violating", &[("violations", violations)])?,
        },
    ];
    charts.extend(phase_charts(values, outcomes)?);
    render(&Page {
        title,
        subtitle: format!("The same seeds at each value of {name}. Figures are measured from the clients' side, over the seeds that ran to the end without a violation.{}", notes.iter().map(|n| format!(" Note: {n}.")).collect::<String>()),
        table,
        failures,
        charts,
        definitions: DEFINITIONS.to_vec(),
    })
}
