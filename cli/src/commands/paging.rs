//! `--limit N --next CURSOR` of the commands that list a page at a time (jobs, result sets,
//! versions): the query they send, and the command line that prints the next page.

use clap::Args;
use serde_json::Value;

use crate::api::Call;

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Rows on the page, 1-100 (default: the API's)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: Option<u32>,
    /// The cursor a previous page printed, for the page after it
    #[arg(long, value_name = "CURSOR")]
    pub next: Option<String>,
}

impl PageArgs {
    pub fn query(&self, mut call: Call) -> Call {
        if let Some(limit) = self.limit {
            call = call.query("limit", limit);
        }
        if let Some(next) = &self.next {
            call = call.query("next", next);
        }
        call
    }

    /// `more: <command> [--limit N] --next <cursor>` when the page says another follows.
    pub fn more(&self, command: &str, page: &Value) -> Option<String> {
        let next = page.get("next").and_then(Value::as_str)?;
        let limit = self.limit.map(|l| format!(" --limit {l}")).unwrap_or_default();
        Some(format!("more: {command}{limit} --next {next}\n"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_next_page_is_a_command_line() {
        let page = PageArgs {
            limit: Some(5),
            next: None,
        };
        assert_eq!(
            page.more("recoflow jobs", &json!({"next": "c-1"})).as_deref(),
            Some("more: recoflow jobs --limit 5 --next c-1\n")
        );
        assert_eq!(page.more("recoflow jobs", &json!({"next": null})), None);
    }
}
