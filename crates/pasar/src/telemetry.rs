//! Logs: a pretty format when a person watches the terminal, JSON lines otherwise (with the
//! request id of the span they happen in). `PASAR_LOG_FORMAT` chooses explicitly.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Installs the logger, writing to stderr.
pub fn init(level: &str, format: LogFormat) -> anyhow::Result<()> {
    init_with(level, format, std::io::stderr, std::io::stderr().is_terminal())
}

/// Installs the logger writing to `writer` (tests capture the lines); `terminal` says whether a
/// person reads it, for `auto`.
pub fn init_with<W>(level: &str, format: LogFormat, writer: W, terminal: bool) -> anyhow::Result<()>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let directives = filter_directives(level);
    let filter = EnvFilter::try_new(&directives).map_err(|e| anyhow::anyhow!("log level {level:?}: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let installed = match resolve(format, terminal) {
        LogFormat::Pretty => builder.compact().try_init(),
        _ => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}

/// `auto` is pretty when the logs go to a terminal (they are written to stderr) and JSON when
/// they go to a file, a pipe or a log collector.
pub fn resolve(format: LogFormat, terminal: bool) -> LogFormat {
    match format {
        LogFormat::Auto if terminal => LogFormat::Pretty,
        LogFormat::Auto => LogFormat::Json,
        explicit => explicit,
    }
}

/// The configured filter, with sqlx's per-statement logs (at `debug`, one line per query) held
/// back to warnings (slow statements, errors) unless the filter names `sqlx` itself.
pub fn filter_directives(level: &str) -> String {
    if level.contains("sqlx") { level.to_owned() } else { format!("{level},sqlx=warn") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_pretty_on_a_terminal_and_json_elsewhere_and_explicit_formats_stay() {
        assert_eq!(resolve(LogFormat::Auto, true), LogFormat::Pretty);
        assert_eq!(resolve(LogFormat::Auto, false), LogFormat::Json);
        assert_eq!(resolve(LogFormat::Json, true), LogFormat::Json);
        assert_eq!(resolve(LogFormat::Pretty, false), LogFormat::Pretty);
    }

    #[test]
    fn database_statements_stay_quiet_at_debug_unless_sqlx_is_asked_for() {
        assert_eq!(filter_directives("debug"), "debug,sqlx=warn");
        assert_eq!(filter_directives("pasar=debug,info"), "pasar=debug,info,sqlx=warn");
        assert_eq!(filter_directives("debug,sqlx=debug"), "debug,sqlx=debug");
        for directives in [filter_directives("debug"), filter_directives("info,sqlx=trace")] {
            assert!(EnvFilter::try_new(directives).is_ok());
        }
    }
}
