//! What a jobs file must be before it is parsed at all: at most `MAX_FILE_BYTES`, UTF-8 (a byte order mark is
//! accepted), one YAML document, nested at most `MAX_DEPTH` levels. A hostile or broken file (gigabytes of
//! `/dev/zero`, thousands of nested `- `, a second document after `---`) is refused here with its position, before
//! the YAML parser can exhaust the stack or the memory, or silently ignore part of the file.

use super::reader::Diagnostic;

/// The largest jobs file fsched reads.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The deepest nesting a jobs file may have (a real one is under ten levels deep).
pub const MAX_DEPTH: usize = 64;

fn problem(line: usize, column: usize, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        line,
        column,
        job: None,
        message: message.into(),
    }
}

/// The text of a jobs file's bytes: refused when too large or not UTF-8 (with the position of the first bad byte);
/// a leading byte order mark is dropped.
pub(super) fn text(bytes: &[u8]) -> Result<&str, Diagnostic> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(problem(
            0,
            0,
            format!(
                "the file is larger than {} MB: a jobs file is a few kilobytes; is this the right file?",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
        problem(
            line,
            column,
            "the file is not UTF-8 text here: save it as UTF-8",
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Whether a line is a document marker (`---` or `...` at the start of a line, alone or followed by a space).
fn marker(line: &str, mark: &str) -> bool {
    line.strip_prefix(mark)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// The part of a line that is not a comment, and whether it ends inside a quoted scalar.
fn content(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') if previous == ' ' || previous == '\t' => return &line[..i],
            (None, '"' | '\'') => quote = Some(c),
            (Some('"'), '"') if previous != '\\' => quote = None,
            (Some('\''), '\'') => quote = None,
            _ => {}
        }
        previous = c;
    }
    line
}

/// Refuses a second YAML document, and nesting deeper than `MAX_DEPTH`, each at the line and column it starts.
pub(super) fn shape(text: &str) -> Result<(), Diagnostic> {
    let mut seen_content = false;
    let mut ended = false;
    // Indentation of each open block level.
    let mut blocks: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    // The indentation of the line that opened a block scalar (`|`, `>`): more indented lines are its text.
    let mut scalar_parent: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let body = content(raw).trim_end();
        if let Some(parent) = scalar_parent {
            if body.trim().is_empty() || indent > parent {
                continue;
            }
            scalar_parent = None;
        }
        if body.trim().is_empty() {
            continue;
        }
        if marker(body, "---") {
            if seen_content || ended {
                return Err(problem(
                    line_no,
                    1,
                    "a second YAML document starts here: a jobs file is one document (remove this `---`, or split \
                     the file in two)",
                ));
            }
            seen_content = !body[3..].trim().is_empty();
            continue;
        }
        if marker(body, "...") {
            ended = true;
            continue;
        }
        if body.starts_with('%') && !seen_content {
            continue;
        }
        if ended {
            return Err(problem(
                line_no,
                1,
                "text after the end of the document (`...`): a jobs file is one document",
            ));
        }
        seen_content = true;
        if flow == 0 {
            while blocks.last().is_some_and(|top| *top >= indent) {
                blocks.pop();
            }
            blocks.push(indent);
        }
        let mut depth = blocks.len() + flow;
        let mut deepest = depth;
        let mut rest = body.trim_start();
        let mut column = indent + 1;
        while let Some(after) = rest
            .strip_prefix("- ")
            .or_else(|| rest.strip_prefix("? "))
            .or_else(|| (rest == "-").then_some(""))
        {
            depth += 1;
            deepest = deepest.max(depth);
            column += rest.len() - after.len();
            let trimmed = after.trim_start();
            column += after.len() - trimmed.len();
            rest = trimmed;
            if deepest > MAX_DEPTH {
                return Err(too_deep(line_no, column));
            }
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some('"'), '"') if previous != '\\' => quote = None,
                (Some('\''), '\'') => quote = None,
                (None, '[' | '{') => {
                    flow += 1;
                    depth += 1;
                    deepest = deepest.max(depth);
                    if deepest > MAX_DEPTH {
                        return Err(too_deep(line_no, column + rest[..i].chars().count()));
                    }
                }
                (None, ']' | '}') => {
                    flow = flow.saturating_sub(1);
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            previous = c;
        }
        if deepest > MAX_DEPTH {
            return Err(too_deep(line_no, column));
        }
        let last = body.rsplit([' ', ':']).next().unwrap_or("");
        if flow == 0 && ["|", "|-", "|+", ">", ">-", ">+"].contains(&last) {
            scalar_parent = Some(indent);
        }
    }
    Ok(())
}

fn too_deep(line: usize, column: usize) -> Diagnostic {
    problem(
        line,
        column,
        format!(
            "nested more than {MAX_DEPTH} levels deep here: a jobs file is a few levels deep; look for runaway `- `, \
             `[` or `{{`"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_with_an_optional_start_marker_is_fine() {
        assert!(shape("---\njobs: {}\n").is_ok());
        assert!(shape("# c\n%YAML 1.2\n---\njobs: {}\n...\n# bye\n").is_ok());
        assert!(shape("jobs:\n  a:\n    command: ['--- not a marker']\n").is_ok());
    }

    #[test]
    fn a_second_document_is_refused_where_it_starts() {
        let err = shape("jobs: {}\n---\njobs: {a: 1}\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 1));
        assert!(err.message.contains("second YAML document"), "{err}");
        let err = shape("jobs: {}\n...\njobs: {}\n").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn deep_nesting_is_refused_with_its_position_and_real_files_pass() {
        let dashes = format!("jobs:\n  {}x\n", "- ".repeat(5000));
        let err = shape(&dashes).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("64 levels"), "{err}");
        let stairs: String = (0..5000)
            .map(|i| format!("{}- \n", " ".repeat(i)))
            .collect();
        assert!(shape(&stairs).is_err());
        let flow = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        assert_eq!(shape(&flow).unwrap_err().line, 1);
        let maps = format!("a: {}1{}\n", "{b: ".repeat(100), "}".repeat(100));
        assert!(shape(&maps).is_err());
        assert!(shape(include_str!("../../../../examples/jobs.yaml")).is_ok());
        let scalar = "a: |\n  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nb: 1\n";
        assert!(
            shape(scalar).is_ok(),
            "a block scalar's text is not structure"
        );
        let quoted = format!("a: '{}'\n", "[".repeat(100));
        assert!(shape(&quoted).is_ok(), "brackets in quotes are text");
    }

    #[test]
    fn bytes_must_be_utf8_and_small_and_a_bom_is_dropped() {
        assert_eq!(text("\u{feff}jobs: {}".as_bytes()).unwrap(), "jobs: {}");
        let err = text(b"jobs:\n  a: caf\xe9\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 9));
        let big = vec![b' '; MAX_FILE_BYTES + 1];
        assert!(text(&big)
            .unwrap_err()
            .message
            .contains("larger than 10 MB"));
    }
}
