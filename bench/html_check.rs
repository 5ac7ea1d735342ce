//! HTML check benchmark: checks a ~100 KB newsletter (a style sheet with media queries, then
//! table-laid-out articles with inline styles, images and links) and prints milliseconds per
//! check. The first check also loads the caniemail data, and is printed apart.
//!
//! Run: `cargo bench --bench html_check` (200 checks; `BENCH_CHECKS=N` to change). Under
//! `cargo test` it runs 5 checks as a smoke test.

use std::time::{Duration, Instant};

use mailsnare::checks::html;

/// The size the newsletter grows to: Gmail clips messages at 102 KB, so real ones stay below.
const TARGET_BYTES: usize = 100 * 1024;

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="color-scheme" content="light dark">
<title>The weekly digest</title>
<link rel="stylesheet" href="https://fonts.example.com/css2?family=Inter">
<style>
  /* Reset */
  body, table, td { margin: 0; padding: 0; }
  @font-face { font-family: "Brand"; src: url("https://cdn.example.com/brand.woff2") format("woff2"); }
  .wrapper { width: 100%; background-color: #eeeeee; }
  .button a:hover { background-color: #004499 !important; }
  .content > p:first-child { margin-top: 0; }
  h2 + p { margin-top: 4px; }
  @media only screen and (max-width: 600px) {
    .container { width: 100% !important; }
    .column { display: block !important; width: 100% !important; }
  }
  @media (prefers-color-scheme: dark) {
    .wrapper { background-color: #111111 !important; }
    .content { color: #eeeeee !important; }
  }
</style>
</head>
<body>
<table class="wrapper" role="presentation" width="100%" cellpadding="0" cellspacing="0">
"#;

fn article(i: usize) -> String {
    format!(
        r##"<tr><td align="center" valign="top" style="padding:16px 0;">
  <table class="container" role="presentation" width="600" cellpadding="0" cellspacing="0" style="width:600px; background-color:#ffffff; border-radius:8px;">
    <tr>
      <td class="column" width="200" valign="top" style="padding:12px;">
        <a href="https://shop.example.com/item/{i}?utm_source=digest"><img src="https://cdn.example.com/items/{i}.jpg" width="176" height="120" alt="Item {i}" style="display:block; border:0; width:100%; height:auto;"></a>
      </td>
      <td class="column content" width="400" valign="top" style="padding:12px; font-family:'Brand', Arial, sans-serif; font-size:15px; line-height:22px; color:#333333;">
        <h2 style="margin:0 0 8px; font-size:20px; font-weight:bold;">Story number {i}</h2>
        <p style="margin:0 0 12px;">A paragraph about story {i}, long enough to look like a real summary of what the reader will find behind the link below.</p>
        <p class="button" style="margin:0;"><a href="https://example.com/stories/{i}" target="_blank" style="display:inline-block; padding:8px 16px; background-color:#0066cc; color:#ffffff; text-decoration:none; border-radius:4px;">Read more</a></p>
      </td>
    </tr>
  </table>
</td></tr>
"##
    )
}

const FOOT: &str = r##"<tr><td align="center" style="padding:24px; font-size:12px; color:#888888;">
  <a href="mailto:help@example.com">help@example.com</a> · <a href="#top">Back to top</a>
</td></tr>
</table>
</body>
</html>
"##;

fn newsletter() -> String {
    let mut html = String::from(HEAD);
    let mut i = 0;
    while html.len() + FOOT.len() < TARGET_BYTES {
        html.push_str(&article(i));
        i += 1;
    }
    html.push_str(FOOT);
    html
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let checks: usize = std::env::var("BENCH_CHECKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 200 } else { 5 });
    let html = newsletter();

    let started = Instant::now();
    let data = html::caniemail::get().unwrap_or_else(|e| panic!("caniemail data: {e}"));
    println!(
        "html-check caniemail data: {} features loaded in {:.2} ms",
        data.len(),
        ms(started.elapsed())
    );

    let started = Instant::now();
    let report = html::check(&html).unwrap_or_else(|e| panic!("check: {e}"));
    let first = started.elapsed();
    println!(
        "html-check: {} KB newsletter, {} nodes, {} warnings, {:.1} % supported",
        html.len() / 1024,
        report.total.nodes,
        report.warnings.len(),
        report.total.supported
    );
    println!(
        "html-check first check                             {:>8.2} ms",
        ms(first)
    );

    let mut samples: Vec<Duration> = (0..checks)
        .map(|_| {
            let started = Instant::now();
            let report = html::check(&html).unwrap_or_else(|e| panic!("check: {e}"));
            let took = started.elapsed();
            assert!(!report.warnings.is_empty());
            took
        })
        .collect();
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "html-check per check n={checks:<4} mean={:>7.2} ms  p50={:>7.2} ms  p99={:>7.2} ms",
        ms(mean),
        ms(at(0.50)),
        ms(at(0.99)),
    );
}
