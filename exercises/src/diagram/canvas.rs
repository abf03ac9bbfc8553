//! A few SVG primitives written straight into a string. Numbers get one
//! decimal so the output is the same bytes on every machine.

use std::fmt::Write;

use super::text::escape;

/// Okabe-Ito colours: distinguishable with every common colour-vision
/// deficiency. Shapes and dash patterns carry the meaning too. The rest of
/// the palette (sky blue, green, orange, yellow) is in the style below.
pub const BLUE: &str = "#0072B2";
pub const VERMILION: &str = "#D55E00";
pub const PURPLE: &str = "#CC79A7";

/// Classes are prefixed: an inline SVG's style block applies to the whole
/// notebook page.
const STYLE: &str = "
.dl-lane{stroke:#333;stroke-width:1.5}
.dl-down{stroke:#999;stroke-width:1.5;stroke-dasharray:2 4}
.dl-msg{stroke:#0072B2;stroke-width:1.4;fill:none}
.dl-dup{stroke:#CC79A7;stroke-width:1.8;stroke-dasharray:9 3 2 3;fill:none}
.dl-drop{stroke:#D55E00;stroke-width:1.4;stroke-dasharray:5 3;fill:none}
.dl-x{stroke:#D55E00;stroke-width:2.2}
.dl-crossed{stroke:#000;stroke-width:2.6}
.dl-edge{opacity:.5}
.dl-t{font-size:10px;fill:#1b2a38;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.dl-tdrop{fill:#9a3d00}
.dl-tobs{fill:#6b4a00}
.dl-ttimer{fill:#00694d}
.dl-axis{font-size:10px;fill:#555}
.dl-timer{fill:#fff;stroke:#009E73;stroke-width:1.5}
.dl-open{fill:#fff;stroke:#0072B2;stroke-width:1.2}
.dl-obs{fill:#E69F00;stroke:#6b4a00;stroke-width:1}
.dl-cs{stroke:#CC79A7;stroke-width:8;opacity:.5}
.dl-crash{fill:url(#dl-hatch);stroke:#999;stroke-width:.5}
.dl-side-a{fill:#56B4E9;opacity:.22}
.dl-side-b{fill:#E69F00;opacity:.22}
.dl-band{stroke:#555;stroke-width:.8;stroke-dasharray:4 2;fill:none}
.dl-hl{fill:#F0E442;opacity:.55}
.dl-ring{stroke:#D55E00;stroke-width:3;fill:none}
.dl-callout{fill:#fff;fill-opacity:.9;stroke:#D55E00;stroke-width:1.5}
.dl-break{stroke:#aaa;stroke-dasharray:1 3}
.dl-fail{fill:#D55E00;stroke:#000}
";

pub struct Canvas {
    pub out: String,
    /// Drawn last, over every line: labels and the violation call-out.
    pub top: String,
}

pub fn num(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

impl Canvas {
    pub fn new(width: f64, height: f64) -> Canvas {
        let mut out = String::new();
        let (w, h) = (num(width), num(height));
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n<style>{STYLE}</style>\n<defs>\n\
             <pattern id=\"dl-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
             <rect width=\"6\" height=\"6\" fill=\"#eee\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#999\" stroke-width=\"2\"/></pattern>\n"
        );
        for (name, colour) in [("msg", BLUE), ("dup", PURPLE), ("drop", VERMILION)] {
            let _ = writeln!(
                out,
                "<marker id=\"dl-head-{name}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" \
                 markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>"
            );
        }
        out.push_str("</defs>\n");
        let _ = writeln!(out, "<rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>");
        Canvas { out, top: String::new() }
    }

    pub fn finish(mut self) -> String {
        self.out.push_str(&self.top);
        self.out.push_str("</svg>\n");
        self.out
    }

    /// A group whose hover text is `title`.
    pub fn open(&mut self, class: &str, title: &str) {
        let class = if class.is_empty() { String::new() } else { format!(" class=\"{class}\"") };
        let _ = write!(self.out, "<g{class}><title>{}</title>", escape(title));
    }

    pub fn close(&mut self) {
        self.out.push_str("</g>\n");
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"{class}\"/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    /// A line or a bow (when both ends are on one lane), with an optional
    /// arrowhead marker.
    pub fn arrow(&mut self, from: (f64, f64), to: (f64, f64), class: &str, head: Option<&str>) {
        let d = if (from.0 - to.0).abs() < 0.5 {
            let bow = from.0 + 28.0;
            format!(
                "M{},{} Q{},{} {},{}",
                num(from.0),
                num(from.1),
                num(bow),
                num((from.1 + to.1) / 2.0),
                num(to.0),
                num(to.1)
            )
        } else {
            format!("M{},{} L{},{}", num(from.0), num(from.1), num(to.0), num(to.1))
        };
        let marker = head.map(|h| format!(" marker-end=\"url(#dl-head-{h})\"")).unwrap_or_default();
        let _ = write!(self.out, "<path d=\"{d}\" class=\"{class}\"{marker}/>");
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"{class}\"/>",
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0))
        );
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, class: &str) {
        let _ = write!(self.out, "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" class=\"{class}\"/>", num(x), num(y), num(r));
    }

    /// The violation's ring, saying in `data-node` which lifeline it marks.
    pub fn ring(&mut self, x: f64, y: f64, r: f64, node: Option<usize>) {
        let node = node.map(|n| format!(" data-node=\"{n}\"")).unwrap_or_default();
        let _ =
            write!(self.out, "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" class=\"dl-ring\"{node}/>", num(x), num(y), num(r));
    }

    pub fn diamond(&mut self, x: f64, y: f64, r: f64, class: &str) {
        let _ = write!(
            self.out,
            "<path d=\"M{},{} L{},{} L{},{} L{},{} z\" class=\"{class}\"/>",
            num(x),
            num(y - r),
            num(x + r),
            num(y),
            num(x),
            num(y + r),
            num(x - r),
            num(y)
        );
    }

    pub fn cross(&mut self, x: f64, y: f64, r: f64, class: &str) {
        self.line(x - r, y - r, x + r, y + r, class);
        self.line(x - r, y + r, x + r, y - r, class);
    }

    /// Text with a white halo; `anchor` is start, middle or end. `y` is the
    /// baseline.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" class=\"{class}\">{}</text>",
            num(x),
            num(y),
            escape(text)
        );
    }

    /// A label in the top layer, with its own hover text.
    pub fn label(&mut self, x: f64, y: f64, anchor: &str, class: &str, text: &str, title: &str) {
        let _ = writeln!(
            self.top,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" class=\"dl-t {class}\"><title>{}</title>{}</text>",
            num(x),
            num(y),
            escape(title),
            escape(text)
        );
    }

    /// Plain text with inline style (header lines, legend).
    pub fn plain(&mut self, x: f64, y: f64, style: &str, text: &str) {
        let _ = write!(self.out, "<text x=\"{}\" y=\"{}\" style=\"{style}\">{}</text>", num(x), num(y), escape(text));
    }
}
