//! What the project's command-line tools share.

/// A clap parse error as one line: the error and its hints (possible values, a
/// suggestion), without the usage block, ending with a pointer to `--help`.
pub fn clap_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    if parts.is_empty() {
        "error: invalid arguments (see --help)".into()
    } else {
        format!("{} (see --help)", parts.join("; "))
    }
}
