//! QR codes for QRIS payments. Pakasir answers only the raw QRIS string; showing it as a code
//! the buyer can scan is the merchant's job, so Pasar draws it: a PNG with the
//! standard four-module quiet zone.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module: a 25-module QRIS code is ~264 px square, sharp on a phone screen.
const SCALE: usize = 8;
const QUIET_ZONE: usize = 4;

/// The code for `text`, at the error-correction level payment codes use (M).
fn code(text: &str) -> anyhow::Result<QrCode> {
    Ok(QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?)
}

/// The QR code of `text` as an 8-bit greyscale PNG.
pub fn png(text: &str) -> anyhow::Result<Vec<u8>> {
    let code = code(text)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color == Color::Light {
            continue;
        }
        let (x, y) = (index % modules + QUIET_ZONE, index / modules + QUIET_ZONE);
        for row in y * SCALE..(y + 1) * SCALE {
            pixels[row * side + x * SCALE..row * side + (x + 1) * SCALE].fill(0);
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side)?;
    let mut encoder = ::png::Encoder::new(&mut out, side, side);
    encoder.set_color(::png::ColorType::Grayscale);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QRIS string as Pakasir's sandbox answers it (EMVCo, starting 000201).
    const QRIS: &str = "00020101021226610016ID.CO.SHOPEE.WWW01189360091800000000000202150000000000000000303UME51440014ID.CO.QRIS.WWW0215ID10243620012340303UME5204549953033605405100035802ID5907Pasar6007Jakarta61051011062070703A0163044C7D";

    fn decode(png_bytes: &[u8]) -> String {
        let decoder = ::png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        let (width, height) = (info.width as usize, info.height as usize);
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the picture");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_png_scans_back_to_the_qris_string() {
        assert_eq!(decode(&png(QRIS).unwrap()), QRIS);
    }
}
