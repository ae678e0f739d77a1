//! A built-in stand-in for MNIST: 28x28 grayscale digit-like images in 10 classes, generated from
//! a seed, so the whole pipeline runs offline with nothing to download.
//!
//! Each class is a glyph made of strokes (lines and cubic Bézier curves in a unit box). A sample
//! draws its class's glyph under a random pose (shift, scale, slant, a smooth bend), with a random
//! stroke width and ink level, antialiased by distance to the stroke, then adds uniform pixel
//! noise, clamps to [0, 1] and quantizes to 8 bits like MNIST. That is easy for a 784-128-10 MLP to learn in a few epochs, yet
//! varied enough that it is not solved after one step.
//!
//! This module must never give different bytes for the same seed, on any machine: it draws only
//! from [`Rng::derive`]`(seed, "synthetic-data")`, uses only basic arithmetic, `sqrt` and `floor`
//! on floats (exactly rounded by IEEE 754, unlike `sin`, `exp` or `ln`, whose last bits vary
//! between math libraries), and runs on one thread with no hash maps and no clock.

use ndarray::{Array1, Array2};

use super::Dataset;
use crate::rng::Rng;

/// Side of the square images, as in MNIST.
pub const SIDE: usize = 28;
const CLASSES: usize = 10;

/// Size in pixels of the glyphs' unit box at scale 1. Glyphs span about 0.8 of the box, so a
/// digit is about 18 pixels tall, like MNIST's digits in their 20x20 box.
const GLYPH_PX: f32 = 24.0;
/// Straight segments per Bézier curve: at this size each is under 2 pixels long, so the polyline
/// is indistinguishable from the curve after antialiasing.
const CURVE_STEPS: usize = 6;
/// Handle length of a cubic Bézier quarter ellipse, 4/3 (sqrt 2 - 1).
const KAPPA: f32 = 0.552_284_8;

type Point = [f32; 2];

#[derive(Debug, Clone, Copy)]
enum Piece {
    Line(Point, Point),
    Cubic(Point, Point, Point, Point),
}

/// `n` samples for `seed`, bit for bit the same on every run and machine.
///
/// Classes come in blocks of ten: samples `10k .. 10k + 10` hold each digit once, in an order
/// shuffled per block. So every class is present from `n = 10` on, class counts differ by at most
/// one in any prefix (such as the first part of a [`Dataset::split`]), and a sample's position
/// says little about its class.
/// `generate(m, seed)` is a prefix of `generate(n, seed)` for `m < n`.
pub fn generate(n: usize, seed: u64) -> Dataset {
    let glyphs: Vec<Vec<Piece>> = (0..CLASSES).map(glyph).collect();
    let mut rng = Rng::derive(seed, "synthetic-data");
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    let mut order: [u8; CLASSES] = std::array::from_fn(|class| class as u8);
    let mut canvas = Canvas::new();

    for i in 0..n {
        if i % CLASSES == 0 {
            rng.shuffle(&mut order);
        }
        let class = order[i % CLASSES];
        let pose = Pose::draw(&mut rng);
        canvas.clear();
        for piece in &glyphs[usize::from(class)] {
            pose.stroke(piece, &mut canvas);
        }
        canvas.render(&pose, &mut rng, &mut pixels);
        labels.push(class);
    }

    Dataset {
        images: Array2::from_shape_vec((n, SIDE * SIDE), pixels)
            .expect("each sample renders exactly SIDE * SIDE pixels"),
        labels: Array1::from_vec(labels),
        rows: SIDE,
        cols: SIDE,
        targets: None,
    }
}

/// The strokes of digit `class` in a unit box, x to the right and y downwards.
fn glyph(class: usize) -> Vec<Piece> {
    use Piece::{Cubic, Line};
    match class {
        0 => ellipse([0.5, 0.5], [0.26, 0.39]),
        1 => vec![
            Line([0.36, 0.24], [0.54, 0.1]),
            Line([0.54, 0.1], [0.54, 0.9]),
        ],
        2 => vec![
            Cubic([0.25, 0.3], [0.27, 0.05], [0.75, 0.05], [0.72, 0.33]),
            Cubic([0.72, 0.33], [0.69, 0.52], [0.4, 0.68], [0.24, 0.9]),
            Line([0.24, 0.9], [0.8, 0.9]),
        ],
        3 => vec![
            Cubic([0.27, 0.18], [0.45, 0.03], [0.8, 0.1], [0.71, 0.32]),
            Cubic([0.71, 0.32], [0.65, 0.46], [0.5, 0.48], [0.42, 0.48]),
            Cubic([0.42, 0.48], [0.62, 0.48], [0.82, 0.56], [0.75, 0.74]),
            Cubic([0.75, 0.74], [0.68, 0.94], [0.36, 0.95], [0.23, 0.8]),
        ],
        4 => vec![
            Line([0.64, 0.9], [0.64, 0.1]),
            Line([0.64, 0.1], [0.22, 0.64]),
            Line([0.22, 0.64], [0.8, 0.64]),
        ],
        5 => vec![
            Line([0.74, 0.1], [0.34, 0.1]),
            Line([0.34, 0.1], [0.3, 0.46]),
            Cubic([0.3, 0.46], [0.5, 0.35], [0.82, 0.42], [0.77, 0.68]),
            Cubic([0.77, 0.68], [0.72, 0.94], [0.38, 0.95], [0.23, 0.8]),
        ],
        6 => {
            let mut pieces = vec![Cubic([0.7, 0.12], [0.48, 0.06], [0.28, 0.3], [0.28, 0.66])];
            pieces.extend(ellipse([0.5, 0.68], [0.22, 0.21]));
            pieces
        }
        7 => vec![
            Line([0.22, 0.1], [0.78, 0.1]),
            Line([0.78, 0.1], [0.42, 0.9]),
        ],
        8 => {
            let mut pieces = ellipse([0.5, 0.3], [0.2, 0.19]);
            pieces.extend(ellipse([0.5, 0.7], [0.24, 0.2]));
            pieces
        }
        _ => {
            let mut pieces = ellipse([0.48, 0.32], [0.22, 0.21]);
            pieces.push(Cubic([0.7, 0.32], [0.71, 0.55], [0.67, 0.72], [0.6, 0.9]));
            pieces
        }
    }
}

/// An ellipse as four cubic quarters, clockwise on screen from its rightmost point.
fn ellipse([cx, cy]: Point, [rx, ry]: Point) -> Vec<Piece> {
    let (kx, ky) = (KAPPA * rx, KAPPA * ry);
    let (right, bottom) = ([cx + rx, cy], [cx, cy + ry]);
    let (left, top) = ([cx - rx, cy], [cx, cy - ry]);
    vec![
        Piece::Cubic(right, [cx + rx, cy + ky], [cx + kx, cy + ry], bottom),
        Piece::Cubic(bottom, [cx - kx, cy + ry], [cx - rx, cy + ky], left),
        Piece::Cubic(left, [cx - rx, cy - ky], [cx - kx, cy - ry], top),
        Piece::Cubic(top, [cx + kx, cy - ry], [cx + rx, cy - ky], right),
    ]
}

/// How one sample is drawn. All randomness of a sample except its noise is drawn here, in a
/// fixed order, so the stream position after each sample does not depend on its class.
struct Pose {
    /// Linear part, unit box (centred) to pixels: x' = a x + b y, y' = c x + d y.
    a: f32,
    b: f32,
    c: f32,
    d: f32,
    /// Offset of the glyph centre from the image centre, in pixels.
    shift: Point,
    /// Quadratic bend, the hand-drawn wobble: a smooth map, so strokes that meet still meet.
    bend: [f32; 4],
    /// Half the stroke width, in pixels.
    radius: f32,
    ink: f32,
    noise: f32,
}

impl Pose {
    fn draw(rng: &mut Rng) -> Pose {
        let scale = rng.uniform_f32(0.85, 1.1);
        let sx = scale * rng.uniform_f32(0.9, 1.1) * GLYPH_PX;
        let sy = scale * rng.uniform_f32(0.92, 1.08) * GLYPH_PX;
        let slant = rng.uniform_f32(-0.3, 0.3);
        let tilt = rng.uniform_f32(-0.08, 0.08);
        let shift = [rng.uniform_f32(-2.5, 2.5), rng.uniform_f32(-2.5, 2.5)];
        let bend = std::array::from_fn(|_| rng.uniform_f32(-0.35, 0.35));
        Pose {
            a: sx,
            b: slant * sy,
            c: tilt * sx,
            d: sy,
            shift,
            bend,
            radius: rng.uniform_f32(0.9, 1.7),
            ink: rng.uniform_f32(0.7, 1.0),
            noise: rng.uniform_f32(0.0, 0.15),
        }
    }

    /// A glyph point in pixel units: pixel `(col, row)` covers x in `[col, col + 1)` and y in
    /// `[row, row + 1)`.
    fn place(&self, [u, v]: Point) -> Point {
        let (x, y) = (u - 0.5, v - 0.5);
        let [p, q, r, s] = self.bend;
        let x = x + p * y * y + q * x * y;
        let y = y + r * x * x + s * x * y;
        let centre = SIDE as f32 / 2.0;
        [
            centre + self.shift[0] + self.a * x + self.b * y,
            centre + self.shift[1] + self.c * x + self.d * y,
        ]
    }

    fn stroke(&self, piece: &Piece, canvas: &mut Canvas) {
        match *piece {
            Piece::Line(p, q) => canvas.segment(self.place(p), self.place(q), self.radius),
            Piece::Cubic(p0, p1, p2, p3) => {
                // Bending the control points rather than the curve keeps it a cubic; ends that
                // pieces share still map to the same pixel point.
                let [p0, p1, p2, p3] = [p0, p1, p2, p3].map(|p| self.place(p));
                let mut prev = p0;
                for step in 1..=CURVE_STEPS {
                    let next = bezier(p0, p1, p2, p3, step as f32 / CURVE_STEPS as f32);
                    canvas.segment(prev, next, self.radius);
                    prev = next;
                }
            }
        }
    }
}

fn bezier(p0: Point, p1: Point, p2: Point, p3: Point, t: f32) -> Point {
    let s = 1.0 - t;
    let (w0, w1, w2, w3) = (s * s * s, 3.0 * s * s * t, 3.0 * s * t * t, t * t * t);
    std::array::from_fn(|k| w0 * p0[k] + w1 * p1[k] + w2 * p2[k] + w3 * p3[k])
}

/// Squared distance from each pixel centre to the nearest stroke drawn so far.
struct Canvas {
    dist2: Vec<f32>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            dist2: vec![f32::INFINITY; SIDE * SIDE],
        }
    }

    fn clear(&mut self) {
        self.dist2.fill(f32::INFINITY);
    }

    /// Updates only the pixels a stroke of this radius can touch (its bounding box plus the
    /// antialiasing ramp), which keeps generation fast even in debug builds.
    fn segment(&mut self, p: Point, q: Point, radius: f32) {
        let reach = radius + 0.5;
        let span = |lo: f32, hi: f32| {
            let first = (lo - reach).floor().max(0.0) as usize;
            let last = ((hi + reach).floor().max(-1.0) + 1.0).min(SIDE as f32) as usize;
            first..last
        };
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let len2 = dx * dx + dy * dy;
        for row in span(p[1].min(q[1]), p[1].max(q[1])) {
            for col in span(p[0].min(q[0]), p[0].max(q[0])) {
                let ex = col as f32 + 0.5 - p[0];
                let ey = row as f32 + 0.5 - p[1];
                let t = if len2 > 0.0 {
                    ((ex * dx + ey * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (fx, fy) = (ex - t * dx, ey - t * dy);
                let cell = &mut self.dist2[row * SIDE + col];
                *cell = cell.min(fx * fx + fy * fy);
            }
        }
    }

    /// Distance to intensity (full ink inside the stroke, a one-pixel linear ramp at its edge),
    /// plus uniform noise in `[-noise, noise)`, clamped to [0, 1] and quantized to `k / 255`.
    fn render(&self, pose: &Pose, rng: &mut Rng, out: &mut Vec<f32>) {
        let mut bits = 0u64;
        for (i, &d2) in self.dist2.iter().enumerate() {
            // Two 24-bit uniforms per draw: 24 bits are exact in f32 and halve the RNG cost.
            if i % 2 == 0 {
                bits = rng.next_u64();
            }
            let u = ((bits >> (40 - 24 * (i % 2))) & 0xff_ffff) as f32 / (1u32 << 24) as f32;
            // Far from every stroke d2 is infinite, and the ramp clamps that to 0.
            let ink = pose.ink * (pose.radius + 0.5 - d2.sqrt()).clamp(0.0, 1.0);
            let v = (ink + pose.noise * (2.0 * u - 1.0)).clamp(0.0, 1.0);
            // Quantized to 8 bits as MNIST's pixels are, so the set can be written as IDX files
            // and read back (as `byte / 255.0`) bit for bit: Python tools then train on the very
            // same inputs.
            out.push((v * 255.0).round() / 255.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;

    fn bits(d: &Dataset) -> Vec<u32> {
        d.images.iter().map(|p| p.to_bits()).collect()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = generate(200, 7);
        let b = generate(200, 7);
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(a.labels, b.labels);
        let c = generate(200, 8);
        assert_ne!(bits(&a), bits(&c));
        assert_ne!(a.labels, c.labels);
    }

    #[test]
    fn shorter_run_is_a_prefix() {
        let long = generate(57, 3);
        let (short, _) = long.split(23, 0).unwrap();
        assert_eq!(generate(23, 3), short);
    }

    #[test]
    fn shape_and_value_range() {
        let d = generate(300, 1);
        assert_eq!((d.rows, d.cols), (SIDE, SIDE));
        assert_eq!(d.images.dim(), (300, SIDE * SIDE));
        assert!(d.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        // Mostly background with real strokes, roughly like MNIST (mean pixel about 0.13).
        let mean = d.images.mean().unwrap();
        assert!((0.05..0.3).contains(&mean), "mean pixel {mean}");
        assert!(d.images.iter().any(|&p| p > 0.95));
        assert!(generate(0, 1).is_empty());
    }

    #[test]
    fn classes_balanced_in_blocks_of_ten() {
        let d = generate(1000, 5);
        let mut counts = [0usize; CLASSES];
        for &label in &d.labels {
            counts[usize::from(label)] += 1;
        }
        assert_eq!(counts, [100; CLASSES]);
        // Within each block every class appears once, but not in a fixed order.
        let blocks: Vec<Vec<u8>> = d.labels.to_vec().chunks(10).map(<[u8]>::to_vec).collect();
        assert!(blocks.iter().all(|b| {
            let mut s = b.clone();
            s.sort_unstable();
            s == (0..10).collect::<Vec<u8>>()
        }));
        assert_ne!(blocks[0], blocks[1]);
    }

    /// Nearest class mean, fitted on the first 1000 samples and scored on the next 1000: the
    /// classes must be clearly separable by even this crude rule, but not perfectly.
    #[test]
    fn classes_are_separable_but_not_trivially() {
        let (fit, eval) = generate(2000, 11).split(1000, 1000).unwrap();
        let means: Vec<Array1<f32>> = (0..CLASSES as u8)
            .map(|class| {
                let rows: Vec<usize> = (0..fit.len()).filter(|&i| fit.labels[i] == class).collect();
                fit.images
                    .select(Axis(0), &rows)
                    .mean_axis(Axis(0))
                    .unwrap()
            })
            .collect();
        for i in 0..CLASSES {
            for j in 0..i {
                let gap: f32 = (&means[i] - &means[j]).mapv(|x| x * x).sum();
                assert!(gap > 1.0, "class means {i} and {j} too close: {gap}");
            }
        }
        let correct = eval
            .images
            .outer_iter()
            .zip(&eval.labels)
            .filter(|(image, label)| {
                let dist = |m: &Array1<f32>| (m - image).mapv(|x| x * x).sum();
                let best = (0..CLASSES)
                    .min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b])))
                    .unwrap();
                best == usize::from(**label)
            })
            .count();
        let accuracy = correct as f64 / eval.len() as f64;
        eprintln!("nearest-class-mean accuracy: {accuracy}");
        assert!(accuracy > 0.6, "accuracy {accuracy}");
        assert!(accuracy < 0.99, "accuracy {accuracy}: the task is too easy");
    }

    /// Pins the exact output for one seed, so a change to the generator (which would change every
    /// model and artifact made from it) cannot slip in unnoticed. Update the constant only on
    /// purpose, and say so in the commit message.
    #[test]
    fn output_is_pinned() {
        let d = generate(20, 1);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let bytes = d.images.iter().flat_map(|p| p.to_bits().to_le_bytes());
        for b in bytes.chain(d.labels.iter().copied()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        assert_eq!(h, 0x9f81_4fb7_5fcd_4efe);
    }

    #[test]
    fn pixels_are_exact_bytes_over_255() {
        let d = generate(50, 3);
        for &p in d.images.iter() {
            let byte = (p * 255.0).round();
            assert!((0.0..=255.0).contains(&byte));
            assert_eq!(p, byte / 255.0, "{p} is not k/255");
        }
    }
}
