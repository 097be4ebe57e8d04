//! The header line: format, version, filters, exactly as the export writes them.

use super::canonical::canonical_diff;
use super::line::{need, Line};
use super::outcome::VerifyOutcome;
use super::problem::{fail, LineResult};
use super::state::Verifier;
use crate::export::jsonl::{header_line, FORMAT_NAME, FORMAT_VERSION};
use crate::filter::Filters;
use crate::time::{format_ms, parse_time};

impl Verifier {
    pub(crate) fn header_line(&mut self, text: &str, l: Line, out: &mut VerifyOutcome) -> LineResult {
        if l.line_type != "header" {
            return fail(None, "not_an_export", "the first line is not an export header");
        }
        if l.format.as_deref() != Some(FORMAT_NAME) {
            return fail(None, "not_an_export", format!("format is not {FORMAT_NAME:?}"));
        }
        if l.version != Some(FORMAT_VERSION) {
            return fail(
                None,
                "bad_version",
                format!("unsupported export version {:?}", l.version),
            );
        }
        let filters = need(l.filters, "filters").map_err(|e| (None, "bad_line", e))?;
        self.filters = Filters::from_json(&filters).map_err(|e| (None, "bad_line", format!("header filters: {e}")))?;
        let generated_at = need(l.generated_at, "generated_at").map_err(|e| (None, "bad_line", e))?;
        let at = parse_time(&generated_at).map_err(|e| (None, "bad_line", format!("generated_at: {e}")))?;
        // The filters as the export would write them: unknown or respelled
        // filters, and any other field, are rejected.
        self.filters_json = self.filters.to_json();
        self.filters.partition = l.partition;
        self.line_buf.clear();
        header_line(&mut self.line_buf, &self.filters_json, &format_ms(at), l.partition);
        if self.line_buf != text.as_bytes() {
            return fail(
                None,
                "not_canonical",
                canonical_diff(text, &self.line_buf, "the header", "the header's parsed filters"),
            );
        }
        out.filters = self.filters_json.clone();
        out.partition = l.partition;
        self.header = true;
        Ok(())
    }
}
