//! Thumbnails of image parts, as Mailpit's `/thumb` route makes them: 180x120 JPEG on white, the
//! picture filled and centred (or fitted, when smaller), turned as its EXIF orientation says.
//! Anything that is not a picture we decode, or is too big to decode safely, gets the blank
//! thumbnail, fast: the pixel count is read from the header before anything is decoded.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, Rgb, RgbImage};

pub const WIDTH: u32 = 180;
pub const HEIGHT: u32 = 120;
/// Largest picture decoded (Mailpit's bound): 20 megapixels, 80 MB as RGBA.
pub const MAX_PIXELS: u64 = 20_000_000;
/// What a decoder may allocate in all, a second guard for formats whose header lies.
pub const MAX_DECODE_BYTES: u64 = 128 << 20;
/// Mailpit's JPEG quality.
const QUALITY: u8 = 70;

/// The thumbnail of `bytes` (an image part's decoded content), always a JPEG. Decoding is
/// CPU work: call it on the blocking pool.
pub fn thumbnail(bytes: &[u8]) -> Vec<u8> {
    match picture(bytes) {
        Some(picture) => encode(&place(&picture)).unwrap_or_else(blank),
        None => blank(),
    }
}

/// The white thumbnail for anything that cannot be shown.
pub fn blank() -> Vec<u8> {
    let white = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    // Encoding a fixed white picture into memory cannot fail; an empty body is the fallback.
    encode(&white).unwrap_or_default()
}

fn picture(bytes: &[u8]) -> Option<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width == 0 || height == 0 {
        tracing::debug!("thumbnail: {width}x{height} is over {MAX_PIXELS} pixels; blank");
        return None;
    }
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).ok()?;
    if let Some(orientation) = orientation {
        picture.apply_orientation(orientation);
    }
    Some(picture)
}

/// Fills the frame (cropping the middle) when the picture is at least as big; otherwise fits it
/// inside, without enlarging; either way centred on white.
fn place(picture: &DynamicImage) -> RgbImage {
    let scaled = if picture.width() < WIDTH || picture.height() < HEIGHT {
        if picture.width() <= WIDTH && picture.height() <= HEIGHT {
            picture.clone()
        } else {
            picture.resize(WIDTH, HEIGHT, FilterType::Lanczos3)
        }
    } else {
        picture.resize_to_fill(WIDTH, HEIGHT, FilterType::Lanczos3)
    };
    // Transparent pixels show the white beneath, as Mailpit's overlay does.
    let mut canvas = image::RgbaImage::from_pixel(WIDTH, HEIGHT, image::Rgba([255, 255, 255, 255]));
    let x = i64::from((WIDTH - scaled.width().min(WIDTH)) / 2);
    let y = i64::from((HEIGHT - scaled.height().min(HEIGHT)) / 2);
    image::imageops::overlay(&mut canvas, &scaled.to_rgba8(), x, y);
    DynamicImage::ImageRgba8(canvas).to_rgb8()
}

fn encode(picture: &RgbImage) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY);
    picture.write_with_encoder(encoder).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, colour: [u8; 3]) -> Vec<u8> {
        let picture = RgbImage::from_pixel(width, height, Rgb(colour));
        let mut out = Vec::new();
        picture
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    /// PNG's chunk CRC (the IEEE polynomial), over type and data.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn decode(jpeg: &[u8]) -> RgbImage {
        image::load_from_memory(jpeg).expect("a JPEG").to_rgb8()
    }

    #[test]
    fn a_picture_fills_the_frame_and_a_small_one_is_centred_on_white() {
        let big = decode(&thumbnail(&png(900, 300, [200, 0, 0])));
        assert_eq!(big.dimensions(), (WIDTH, HEIGHT));
        let corner = big.get_pixel(0, 0);
        assert!(
            corner[0] > 150 && corner[1] < 60,
            "filled with red: {corner:?}"
        );

        let small = decode(&thumbnail(&png(20, 10, [0, 0, 200])));
        assert_eq!(small.dimensions(), (WIDTH, HEIGHT));
        assert!(small.get_pixel(0, 0)[0] > 240, "white around it");
        let middle = small.get_pixel(WIDTH / 2, HEIGHT / 2);
        assert!(
            middle[2] > 150 && middle[0] < 60,
            "blue in the middle: {middle:?}"
        );
    }

    #[test]
    fn junk_and_bombs_get_the_blank_thumbnail_fast() {
        let white = decode(&blank());
        assert_eq!(white.dimensions(), (WIDTH, HEIGHT));
        assert_eq!(decode(&thumbnail(b"not an image")), white);
        // A PNG whose header claims 100 000 x 100 000 pixels (10 gigapixels), with a valid CRC.
        let mut bomb = png(1, 1, [0, 0, 0]);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        let started = std::time::Instant::now();
        let thumb = thumbnail(&bomb);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(decode(&thumb), white);
    }
}
