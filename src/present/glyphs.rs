//! Text for the result charts: each glyph rasterised once per (character,
//! size) and blended straight into the chart's RGB buffer.
//!
//! plotters draws text by outlining and rasterising every glyph again on
//! every call, then blending it pixel by pixel through its backend: in
//! issue 11's profile of a result chart that was about half of the chart's
//! time. A chart's text is a few hundred glyphs from a small set, so a
//! cache of coverage maps makes the text a copy.
//!
//! Layout follows plotters' (the box of a line is its advance width by
//! `size / 1.24` high, the baseline `size / 2` below its top), so anchors
//! mean what they meant when plotters drew the same text.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};

/// A glyph's coverage, placed relative to the pen on the baseline.
struct Glyph {
    left: i32,
    top: i32,
    width: usize,
    coverage: Vec<u8>,
}

/// More distinct (character, size) pairs than this and the cache starts
/// over: chart text comes from `responses/`, so this is never reached in
/// practice; it only bounds memory against unexpected text.
const MAX_CACHED: usize = 4096;

/// Rasterised glyphs by (character, size in pixels); `None` for a
/// character without an outline (a space).
type Glyphs = HashMap<(char, u32), Option<Glyph>>;

pub struct Face {
    font: FontRef<'static>,
    glyphs: Mutex<Glyphs>,
}

/// Where `(x, y)` is on the line's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    LeftCenter,
    CenterCenter,
    RightCenter,
    CenterTop,
}

/// One line of text to draw once plotters has finished with the buffer.
#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    pub size: u32,
    pub colour: [u8; 3],
    pub x: i32,
    pub y: i32,
    pub anchor: Anchor,
}

impl Face {
    /// The face of `font_bytes`, loaded once per process (the charts have
    /// one font: later calls get the first call's face, whatever bytes they
    /// pass); `None` if they are not a font.
    pub fn get(font_bytes: &'static [u8]) -> Option<&'static Face> {
        static FACE: OnceLock<Option<Face>> = OnceLock::new();
        FACE.get_or_init(|| {
            FontRef::try_from_slice(font_bytes).ok().map(|font| Face {
                font,
                glyphs: Mutex::new(HashMap::new()),
            })
        })
        .as_ref()
    }

    /// Where each character's pen position falls on the line (kerning
    /// included), and the line's advance width: one pass serves both the
    /// anchor and the drawing.
    fn layout(&self, size: u32, text: &str) -> (Vec<(char, f32)>, i32) {
        let scaled = self.font.as_scaled(PxScale::from(size as f32));
        let mut placed = Vec::with_capacity(text.len());
        let mut pen = 0f32;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            placed.push((c, pen));
            pen += scaled.h_advance(id);
            prev = Some(id);
        }
        (placed, pen as i32)
    }

    /// The advance width of `text` at `size` pixels, kerning included.
    pub fn width(&self, size: u32, text: &str) -> i32 {
        self.layout(size, text).1
    }

    /// The glyph of `c` at `size` from `cache`, rasterised on first use.
    fn glyph<'a>(&self, cache: &'a mut Glyphs, c: char, size: u32) -> Option<&'a Glyph> {
        if cache.len() >= MAX_CACHED && !cache.contains_key(&(c, size)) {
            cache.clear();
        }
        cache
            .entry((c, size))
            .or_insert_with(|| {
                let scaled = self.font.as_scaled(PxScale::from(size as f32));
                self.font.outline_glyph(scaled.scaled_glyph(c)).map(|outlined| {
                    let bounds = outlined.px_bounds();
                    let width = bounds.width() as usize;
                    let height = bounds.height() as usize;
                    let mut coverage = vec![0u8; width * height];
                    outlined.draw(|x, y, c| {
                        if let Some(px) = coverage.get_mut(y as usize * width + x as usize) {
                            *px = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
                        }
                    });
                    Glyph {
                        left: bounds.min.x as i32,
                        top: bounds.min.y as i32,
                        width,
                        coverage,
                    }
                })
            })
            .as_ref()
    }

    /// Blends `line` into `rgb`, a `width` pixels wide RGB buffer; whatever
    /// falls outside it is clipped.
    pub fn draw(&self, rgb: &mut [u8], width: u32, line: &Line) {
        let size = line.size;
        let (placed, box_width) = self.layout(size, &line.text);
        let box_height = (f64::from(size) / 1.24) as i32;
        let left = match line.anchor {
            Anchor::LeftCenter => line.x,
            Anchor::CenterCenter | Anchor::CenterTop => line.x.saturating_sub(box_width / 2),
            Anchor::RightCenter => line.x.saturating_sub(box_width),
        };
        let top = match line.anchor {
            Anchor::CenterTop => line.y,
            _ => line.y.saturating_sub(box_height / 2),
        };
        let baseline = top.saturating_add((size / 2) as i32);
        let width = width as i32;
        let height = (rgb.len() / 3) as i32 / width.max(1);
        // One lock per line, not per glyph.
        let mut cache = self.glyphs.lock().unwrap_or_else(PoisonError::into_inner);
        for (c, pen) in placed {
            if let Some(g) = self.glyph(&mut cache, c, size) {
                let x0 = left.saturating_add(pen as i32).saturating_add(g.left);
                let y0 = baseline.saturating_add(g.top);
                for (row, cov_row) in g.coverage.chunks(g.width.max(1)).enumerate() {
                    let y = y0.saturating_add(row as i32);
                    if y < 0 || y >= height {
                        continue;
                    }
                    for (col, &cov) in cov_row.iter().enumerate() {
                        let x = x0.saturating_add(col as i32);
                        if cov == 0 || x < 0 || x >= width {
                            continue;
                        }
                        let at = ((y * width + x) * 3) as usize;
                        if let Some(px) = rgb.get_mut(at..at + 3) {
                            blend(px, line.colour, cov);
                        }
                    }
                }
            }
        }
    }
}

/// `dst = src × a + dst × (1 − a)`, in integers.
fn blend(dst: &mut [u8], src: [u8; 3], alpha: u8) {
    let a = u16::from(alpha);
    for (d, s) in dst.iter_mut().zip(src) {
        *d = ((u16::from(s) * a + u16::from(*d) * (255 - a) + 127) / 255) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

    fn face() -> &'static Face {
        Face::get(FONT).expect("the bundled font loads")
    }

    fn white(width: u32, height: u32) -> Vec<u8> {
        vec![255; (width * height * 3) as usize]
    }

    fn inked(rgb: &[u8], width: u32) -> Vec<(i32, i32)> {
        rgb.chunks(3)
            .enumerate()
            .filter(|(_, px)| px.iter().any(|&v| v != 255))
            .map(|(i, _)| ((i as u32 % width) as i32, (i as u32 / width) as i32))
            .collect()
    }

    fn line(text: &str, x: i32, y: i32, anchor: Anchor) -> Line {
        Line {
            text: text.into(),
            size: 16,
            colour: [0, 0, 0],
            x,
            y,
            anchor,
        }
    }

    #[test]
    fn wider_text_measures_wider() {
        let f = face();
        assert!(f.width(16, "Django") > f.width(16, "Dj"));
        assert!(f.width(24, "Django") > f.width(16, "Django"));
        assert_eq!(f.width(16, ""), 0);
    }

    #[test]
    fn anchors_place_the_text_where_they_say() {
        let (w, h) = (300u32, 40u32);
        let width = face().width(16, "Flask");
        for (anchor, x, expect_left, expect_right) in [
            (Anchor::LeftCenter, 100, 100, 100 + width),
            (Anchor::RightCenter, 200, 200 - width, 200),
            (Anchor::CenterCenter, 150, 150 - width / 2, 150 + width / 2),
        ] {
            let mut rgb = white(w, h);
            face().draw(&mut rgb, w, &line("Flask", x, 20, anchor));
            let ink = inked(&rgb, w);
            assert!(!ink.is_empty(), "{anchor:?} drew nothing");
            let min_x = ink.iter().map(|p| p.0).min().unwrap();
            let max_x = ink.iter().map(|p| p.0).max().unwrap();
            assert!(
                (min_x - expect_left).abs() <= 3,
                "{anchor:?}: starts at {min_x}, not {expect_left}"
            );
            assert!(
                (max_x - expect_right).abs() <= 3,
                "{anchor:?}: ends at {max_x}, not {expect_right}"
            );
            let min_y = ink.iter().map(|p| p.1).min().unwrap();
            let max_y = ink.iter().map(|p| p.1).max().unwrap();
            assert!(
                min_y < 20 && max_y > 12,
                "{anchor:?}: rows {min_y}..{max_y} miss the centre line"
            );
        }
    }

    #[test]
    fn text_off_the_buffer_is_clipped_not_a_panic() {
        let (w, h) = (50u32, 10u32);
        let mut rgb = white(w, h);
        for (x, y) in [(-500, 5), (500, 5), (25, -100), (25, 100), (i32::MIN / 4, i32::MAX / 4)] {
            face().draw(&mut rgb, w, &line("Django vs Flask", x, y, Anchor::LeftCenter));
        }
        face().draw(&mut [], w, &line("x", 0, 0, Anchor::LeftCenter));
        face().draw(&mut rgb, 0, &line("x", 0, 0, Anchor::LeftCenter));
    }

    #[test]
    fn the_same_text_draws_the_same_pixels_from_the_cache() {
        let (w, h) = (200u32, 30u32);
        let draw = || {
            let mut rgb = white(w, h);
            face().draw(&mut rgb, w, &line("Ağ€漢 ok", 5, 15, Anchor::LeftCenter));
            rgb
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn blending_covers_fully_at_full_coverage_and_not_at_none() {
        let mut px = [255u8, 255, 255];
        blend(&mut px, [10, 20, 30], 255);
        assert_eq!(px, [10, 20, 30]);
        blend(&mut px, [200, 200, 200], 0);
        assert_eq!(px, [10, 20, 30]);
        blend(&mut px, [210, 220, 230], 128);
        assert!(
            px.iter().zip([110u8, 120, 130]).all(|(a, b)| a.abs_diff(b) <= 1),
            "{px:?}"
        );
    }
}
