//! PNG charts of a result, rendered in process (plotters' bitmap backend
//! for the shapes and axis, [`super::glyphs`] for the rest of the text,
//! PNG-encoded with the `png` crate), with the DejaVu Sans font bundled in
//! `assets/fonts/` (never a system font, no network):
//! - a private consultation: each answer's contribution as a diverging bar,
//!   toward the first framework (right) or the second (left), with the
//!   verdict and confidence in the title;
//! - a team: each question's vote split as a stacked bar, each option
//!   coloured by the framework it pushes toward.
//!
//! All text comes from the view models and `[labels]`.

use std::sync::{Mutex, OnceLock, PoisonError};

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use thiserror::Error;

use super::glyphs::{Anchor, Face, Line};
use super::{clip, labels, Contribution, QuestionSplit, NEUTRAL_COLOUR};
use crate::content::Content;
use crate::domain::framework::FRAMEWORK_IDS;
use crate::domain::labels::fill;

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/fonts/DejaVu-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name the bundled font is registered under.
const FAMILY: &str = "dejavu-sans";

pub const WIDTH: u32 = 1000;
const ROW_PRIVATE: u32 = 30;
const ROW_TEAM: u32 = 36;
/// Title, legend and axis.
const CHROME: u32 = 150;
/// Space around the plot; the title and legend sit in the top one.
const MARGIN: u32 = 16;
const MARGIN_TOP: u32 = 56;
const TITLE_SIZE: u32 = 24;
/// What the title takes from the top of the plot: its box (`size / 1.24`)
/// and 5 pixels above and below (plotters' caption layout, kept so charts
/// look as they did when plotters drew the title).
const TITLE_HEIGHT: u32 = 19 + 2 * 5;
/// Left margin for the row labels.
const LABEL_AREA: u32 = 400;

#[derive(Debug, Error)]
pub enum ChartError {
    #[error("the bundled font could not be loaded")]
    Font,
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(#[from] png::EncodingError),
}

/// Pixel buffers kept between charts. A chart's buffer is about 2 MB; a
/// fresh one per chart made the allocator map new memory each time, and the
/// kernel zeroed it page by page (often a whole 2 MB huge page per fault):
/// page faults were a sixth of the bot's CPU in issue 11's profile.
static SPARE_CANVASES: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Charts drawn at the same moment are rare; more than this are freed.
const KEPT_CANVASES: usize = 2;

/// A white RGB buffer of `len` bytes, reused from a previous chart if one
/// is spare. White is set here as bytes (a `memset`), not by plotters'
/// `fill`, which blends pixel by pixel (a tenth of a chart's time).
struct Canvas(Vec<u8>);

impl Canvas {
    fn white(len: usize) -> Canvas {
        let spare = SPARE_CANVASES.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut buf = spare.unwrap_or_default();
        buf.clear();
        buf.resize(len, 0xff);
        Canvas(buf)
    }
}

impl Drop for Canvas {
    fn drop(&mut self) {
        let mut spare = SPARE_CANVASES.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < KEPT_CANVASES {
            spare.push(std::mem::take(&mut self.0));
        }
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError::Draw(format!("{e:?}"))
}

/// The bundled font: registered with plotters once per process (for the
/// axis: its numbers and its description), and as the face that draws the
/// rest of the text.
fn font() -> Result<&'static Face, ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    match Face::get(FONT) {
        Some(face) if ok => Ok(face),
        _ => Err(ChartError::Font),
    }
}

/// The title line, centred over the plot as plotters' caption was.
fn title_line(title: &str) -> Line {
    Line {
        text: clip(title, 80),
        size: TITLE_SIZE,
        colour: [0, 0, 0],
        x: (MARGIN + (WIDTH - 2 * MARGIN) / 2) as i32,
        y: MARGIN_TOP as i32 + 5,
        anchor: Anchor::CenterTop,
    }
}

/// Draws the text lines once plotters is done with the buffer.
fn draw_lines(face: &Face, canvas: &mut Canvas, lines: &[Line]) {
    for line in lines {
        face.draw(&mut canvas.0, WIDTH, line);
    }
}

fn rgb(colour: u32) -> RGBColor {
    RGBColor((colour >> 16) as u8, (colour >> 8) as u8, colour as u8)
}

fn framework_colour(content: &Content, id: Option<&str>) -> RGBColor {
    rgb(id
        .and_then(|id| content.knowledge.framework(id))
        .map_or(NEUTRAL_COLOUR, |f| f.colour))
}

/// Encodes an RGB buffer as PNG.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    // A chart compresses to about a twelfth of its pixels: reserving an
    // eighth avoids regrowing (and copying) the output while it is written.
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Fast (fdeflate) with the Up filter: a chart's rows repeat the row
        // above (grid lines, bars, white), which Up turns into runs of zeros.
        // On a 14-row result chart this measured 0.69 ms and 140 KB, against
        // 1.33 ms and 378 KB for png's default filter (Sub) and 14 ms / 48 KB
        // for zlib level 6 (BENCHMARKS.md, "Where the rest went").
        encoder.set_compression(png::Compression::Fast);
        encoder.set_filter(png::FilterType::Up);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

/// The framework names as shown on the legend: `(left, right)`.
fn sides(content: &Content) -> (String, String) {
    let name = |id: &str| super::framework_name(content, id);
    (name(FRAMEWORK_IDS[1]), name(FRAMEWORK_IDS[0]))
}

/// A coloured square and its caption at `(x, y)`; returns the x after it.
fn legend_item<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    face: &Face,
    lines: &mut Vec<Line>,
    (x, y): (i32, i32),
    colour: RGBColor,
    caption: &str,
) -> Result<i32, ChartError> {
    area.draw(&Rectangle::new([(x, y - 7), (x + 14, y + 7)], colour.filled()))
        .map_err(draw_err)?;
    lines.push(Line {
        text: caption.to_string(),
        size: 15,
        colour: [0, 0, 0],
        x: x + 20,
        y,
        anchor: Anchor::LeftCenter,
    });
    Ok(x + 20 + face.width(15, caption) + 24)
}

/// Private consultation: one diverging bar per answered option.
/// `title`: the verdict line (see `labels.chart_private_title`).
pub fn private(content: &Content, title: &str, rows: &[Contribution]) -> Result<Vec<u8>, ChartError> {
    let face = font()?;
    let l = labels(content);
    let n = rows.len().max(1);
    let height = CHROME + ROW_PRIVATE * n as u32;
    let mut canvas = Canvas::white((WIDTH * height * 3) as usize);
    let mut lines = vec![title_line(title)];
    {
        let root = BitMapBackend::with_buffer(&mut canvas.0, (WIDTH, height)).into_drawing_area();
        let max = rows.iter().map(|r| r.points.abs()).fold(1.0_f64, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .margin_top(MARGIN_TOP + TITLE_HEIGHT)
            .x_label_area_size(44)
            .y_label_area_size(LABEL_AREA)
            .build_cartesian_2d(-max..max, 0.0..n as f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(l.chart_axis_points.as_str())
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .x_label_formatter(&|x| format!("{:.0}", x.abs()))
            .draw()
            .map_err(draw_err)?;
        let (left, right) = sides(content);
        let colour_right = framework_colour(content, Some(FRAMEWORK_IDS[0]));
        let colour_left = framework_colour(content, Some(FRAMEWORK_IDS[1]));
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let y = (n - 1 - i) as f64;
                let colour = if r.points >= 0.0 { colour_right } else { colour_left };
                Rectangle::new([(0.0, y + 0.15), (r.points, y + 0.85)], colour.filled())
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (0.0, n as f64)],
                BLACK.stroke_width(1),
            )))
            .map_err(draw_err)?;
        for (i, r) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(-max, (n - 1 - i) as f64 + 0.5));
            lines.push(Line {
                text: clip(&r.label, 58),
                size: 13,
                colour: [0, 0, 0],
                x: x - 8,
                y,
                anchor: Anchor::RightCenter,
            });
        }
        // Legend: which side is which framework.
        let y = 48;
        let x = legend_item(
            &root,
            face,
            &mut lines,
            (LABEL_AREA as i32 + 16, y),
            colour_left,
            &fill(&l.chart_toward, &[("framework", &left)]),
        )?;
        legend_item(
            &root,
            face,
            &mut lines,
            (x, y),
            colour_right,
            &fill(&l.chart_toward, &[("framework", &right)]),
        )?;
        root.present().map_err(draw_err)?;
    }
    draw_lines(face, &mut canvas, &lines);
    encode_png(&canvas.0, WIDTH, height)
}

/// Team: one stacked bar per question, one segment per option with votes,
/// coloured by the framework the option pushes toward.
pub fn team(content: &Content, title: &str, splits: &[QuestionSplit]) -> Result<Vec<u8>, ChartError> {
    let face = font()?;
    let l = labels(content);
    let n = splits.len().max(1);
    let height = CHROME + ROW_TEAM * n as u32;
    let mut canvas = Canvas::white((WIDTH * height * 3) as usize);
    let mut lines = vec![title_line(title)];
    {
        let root = BitMapBackend::with_buffer(&mut canvas.0, (WIDTH, height)).into_drawing_area();
        let max = splits.iter().map(|s| s.voters).max().unwrap_or(1).max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(MARGIN)
            .margin_top(MARGIN_TOP + TITLE_HEIGHT)
            .x_label_area_size(44)
            .y_label_area_size(LABEL_AREA)
            .build_cartesian_2d(0.0..max, 0.0..n as f64)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(l.chart_axis_votes.as_str())
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(draw_err)?;
        for (i, s) in splits.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let mut x = 0.0;
            for o in &s.options {
                let x1 = x + o.votes as f64;
                let colour = framework_colour(content, o.toward.as_deref());
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y + 0.12), (x1, y + 0.88)],
                        colour.filled(),
                    )))
                    .map_err(draw_err)?;
                // A white edge tells apart neighbouring options of one colour.
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y + 0.12), (x1, y + 0.88)],
                        WHITE.stroke_width(1),
                    )))
                    .map_err(draw_err)?;
                let (px0, py) = chart.backend_coord(&(x, y + 0.5));
                let (px1, _) = chart.backend_coord(&(x1, y + 0.5));
                let inner = format!("{} {}", o.short, o.votes);
                let fits = |text: &str| face.width(12, text) < px1 - px0 - 6;
                let shown = if fits(&inner) {
                    Some(inner)
                } else if fits(&o.votes.to_string()) {
                    Some(o.votes.to_string())
                } else {
                    None
                };
                if let Some(text) = shown {
                    lines.push(Line {
                        text,
                        size: 12,
                        colour: [0xff, 0xff, 0xff],
                        x: (px0 + px1) / 2,
                        y: py,
                        anchor: Anchor::CenterCenter,
                    });
                }
                x = x1;
            }
            let (px, py) = chart.backend_coord(&(0.0, y + 0.5));
            lines.push(Line {
                text: clip(&s.short_prompt, 58),
                size: 13,
                colour: [0, 0, 0],
                x: px - 8,
                y: py,
                anchor: Anchor::RightCenter,
            });
        }
        let (left, right) = sides(content);
        let y = 48;
        let mut x = LABEL_AREA as i32 + 16;
        x = legend_item(
            &root,
            face,
            &mut lines,
            (x, y),
            framework_colour(content, Some(FRAMEWORK_IDS[0])),
            &fill(&l.chart_toward, &[("framework", &right)]),
        )?;
        x = legend_item(
            &root,
            face,
            &mut lines,
            (x, y),
            framework_colour(content, Some(FRAMEWORK_IDS[1])),
            &fill(&l.chart_toward, &[("framework", &left)]),
        )?;
        legend_item(&root, face, &mut lines, (x, y), rgb(NEUTRAL_COLOUR), &l.chart_neutral)?;
        root.present().map_err(draw_err)?;
    }
    draw_lines(face, &mut canvas, &lines);
    encode_png(&canvas.0, WIDTH, height)
}

/// The chart of a finished consultation: a team's splits when `unity` is
/// given (a team session), else each answer's contribution.
pub fn of_result(
    content: &Content,
    session: &crate::domain::session::Session,
    rec: &crate::domain::scoring::Recommendation,
    unity: Option<&crate::domain::team::Unity>,
) -> Result<Vec<u8>, ChartError> {
    match unity.filter(|_| session.team.is_some()) {
        Some(unity) => {
            let result = super::team_result(content, session, rec, unity);
            team(content, &title(content, &result.recommendation, true), &result.splits)
        }
        None => {
            let view = super::recommendation(content, rec, super::Audience::Private);
            private(
                content,
                &title(content, &view, false),
                &super::contributions(content, session),
            )
        }
    }
}

/// The chart title for a recommendation view.
pub fn title(content: &Content, rec: &super::RecommendationView, team: bool) -> String {
    let l = labels(content);
    let template = if team {
        &l.chart_team_title
    } else {
        &l.chart_private_title
    };
    fill(
        template,
        &[("verdict", &rec.title), ("confidence", &rec.confidence.to_string())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scoring::picks_from_answers;
    use crate::present::tests::{content, finished_session};
    use crate::present::{contributions, recommendation, Audience};

    fn decode(png_bytes: &[u8]) -> (u32, u32) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let reader = decoder.read_info().expect("a PNG header");
        let info = reader.info();
        (info.width, info.height)
    }

    /// The chart of a private consultation answered to the end, and its row count.
    fn full_private_chart() -> (Vec<u8>, usize) {
        let c = content();
        let s = finished_session(&c, 0);
        let rec = c.recommend(&picks_from_answers(&s.answers));
        let view = recommendation(&c, &rec, Audience::Private);
        let rows = contributions(&c, &s);
        let png_bytes = private(&c, &title(&c, &view, false), &rows).expect("renders");
        (png_bytes, rows.len())
    }

    #[test]
    fn private_chart_is_a_png_sized_by_its_rows() {
        let (png_bytes, rows) = full_private_chart();
        assert_eq!(decode(&png_bytes), (WIDTH, CHROME + ROW_PRIVATE * rows as u32));
    }

    #[test]
    fn encoding_is_lossless() {
        let (width, height) = (37u32, 11u32);
        let rgb: Vec<u8> = (0..width * height * 3).map(|i| (i * 7 % 251) as u8).collect();
        let png_bytes = encode_png(&rgb, width, height).expect("encodes");
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
            .read_info()
            .expect("a PNG header");
        let mut decoded = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut decoded).expect("a frame");
        assert_eq!(
            (info.width, info.height, info.color_type),
            (width, height, png::ColorType::Rgb)
        );
        assert_eq!(&decoded[..info.buffer_size()], &rgb[..]);
    }

    #[test]
    fn a_full_result_chart_stays_small() {
        // Every chart is uploaded inside the click that finishes a consultation.
        // png's default filter made this chart 378 KB; Up makes it ~140 KB.
        let (png_bytes, _) = full_private_chart();
        assert!(png_bytes.len() < 200_000, "{} bytes", png_bytes.len());
    }

    #[test]
    fn a_reused_canvas_leaves_nothing_of_the_last_chart() {
        let c = content();
        let s = finished_session(&c, 0);
        let rows = contributions(&c, &s);
        let first = private(&c, "t", &rows).expect("renders");
        // A different chart in between, so the spare buffer holds its pixels.
        let busy: Vec<Contribution> = rows.iter().cycle().take(rows.len() * 2).cloned().collect();
        private(&c, "another title", &busy).expect("renders");
        assert_eq!(private(&c, "t", &rows).expect("renders"), first);
    }

    #[test]
    fn empty_charts_still_render() {
        let c = content();
        assert!(private(&c, "t", &[]).is_ok());
        assert!(team(&c, "t", &[]).is_ok());
    }
}
