//! The kernel's logo, drawn here: three nodes of a small cluster joined by
//! links, white on rust orange.

fn draw(size: u32) -> Vec<u8> {
    let s = size as f32;
    let bg = [0xb7u8, 0x41, 0x0e, 0xff];
    let fg = [0xffu8, 0xff, 0xff, 0xff];
    let nodes = [(0.5 * s, 0.25 * s), (0.25 * s, 0.72 * s), (0.75 * s, 0.72 * s)];
    let r_node = 0.12 * s;
    let w_link = (0.035 * s).max(1.0);
    let corner = 0.18 * s;
    let mut px = vec![0u8; (size * size * 4) as usize];
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            // Rounded square background, transparent outside.
            let dx = (corner - fx).max(fx - (s - corner)).max(0.0);
            let dy = (corner - fy).max(fy - (s - corner)).max(0.0);
            let inside = (dx * dx + dy * dy).sqrt() <= corner;
            let mut c = if inside { bg } else { [0, 0, 0, 0] };
            if inside {
                let on_node = nodes.iter().any(|(nx, ny)| ((fx - nx).powi(2) + (fy - ny).powi(2)).sqrt() <= r_node);
                let on_link = (0..3).any(|i| {
                    let (ax, ay) = nodes[i];
                    let (bx, by) = nodes[(i + 1) % 3];
                    let (vx, vy) = (bx - ax, by - ay);
                    let t = (((fx - ax) * vx + (fy - ay) * vy) / (vx * vx + vy * vy)).clamp(0.0, 1.0);
                    let (px_, py_) = (ax + t * vx, ay + t * vy);
                    ((fx - px_).powi(2) + (fy - py_).powi(2)).sqrt() <= w_link
                });
                if on_node || on_link {
                    c = fg;
                }
            }
            let i = ((y * size + x) * 4) as usize;
            px[i..i + 4].copy_from_slice(&c);
        }
    }
    px
}

/// PNG bytes of a `size` x `size` logo.
pub fn png(size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, size, size);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("png header");
        w.write_image_data(&draw(size)).expect("png data");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_a_png() {
        let p = super::png(64);
        assert_eq!(&p[1..4], b"PNG");
        let d = png::Decoder::new(std::io::Cursor::new(p));
        let r = d.read_info().unwrap();
        assert_eq!(r.info().width, 64);
    }
}
