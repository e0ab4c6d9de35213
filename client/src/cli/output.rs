//! Printing results: JSON for scripts, aligned tables for people. Every line goes through [`outln!`],
//! which returns a write error instead of panicking, so `soil … | head` ends quietly (see `main`).

use serde::Serialize;

/// `println!` that returns the [`std::io::Error`] of a failed write (a closed pipe) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use outln;

/// Prints `value` as pretty JSON.
pub(crate) fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Prints `value` as JSON if `as_json`, else the key/value pairs as an aligned two-column table.
pub(crate) fn record<T: Serialize>(
    as_json: bool,
    value: &T,
    rows: &[(&str, String)],
) -> anyhow::Result<()> {
    if as_json {
        return json(value);
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, val) in rows {
        outln!("{key:<width$}  {val}")?;
    }
    Ok(())
}

/// Prints a table with a header row, columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        outln!("{}", padded.join("  ").trim_end())
    };
    line(header.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}
