//! What the `ai-*` commands share: the workload and LLM arguments, and loading them.

use std::path::PathBuf;

use clap::Args;
use clnrm::ai::AiConfig;
use clnrm::ai::commands::{WorkUnits, Workload};
use clnrm::ai::service::AdvisorService;
use clnrm::history::HistoryStore;

use crate::CliError;

/// TOML suites or a cargo test target's history.
#[derive(Debug, Args)]
pub(crate) struct WorkloadArgs {
    /// Suite files, or directories searched for `*.clnrm.toml` (default: the current directory).
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Work on a cargo test target's history instead of suites: `package::binary`, or the
    /// binary alone when it is unique (e.g. `shortener`).
    #[arg(long, value_name = "NAME", conflicts_with = "paths")]
    pub(crate) target: Option<String>,
}

/// The optional LLM advisor.
#[derive(Debug, Args)]
pub(crate) struct AiArgs {
    /// Statistics only: do not ask the LLM.
    #[arg(long)]
    no_ai: bool,
    /// The LLM's base URL (default: `CLNRM_AI_URL`, else http://localhost:11434).
    #[arg(long, value_name = "URL")]
    ai_url: Option<String>,
    /// The model (default: `CLNRM_AI_MODEL`, else chosen from what the server has).
    #[arg(long, value_name = "NAME")]
    ai_model: Option<String>,
    /// Start a model server for this command and ask it: `ollama=gemma3:270m`,
    /// `vllm=ORG/NAME` or `tgi=ORG/NAME` (the built-in plugins; removed at the end).
    #[arg(
        long,
        value_name = "PLUGIN=MODEL",
        conflicts_with_all = ["no_ai", "ai_url", "ai_model"]
    )]
    ai_service: Option<String>,
}

impl AiArgs {
    /// Starts the `--ai-service` model server, when one is asked for.
    pub(crate) async fn start_service(&self) -> Result<Option<AdvisorService>, CliError> {
        let Some(text) = &self.ai_service else {
            return Ok(None);
        };
        let spec = clnrm::ai::service::parse(text)
            .map_err(|e| CliError::Invalid(format!("invalid --ai-service {e}")))?;
        eprintln!("clnrm: starting the advisor's model server ({text})");
        let service = AdvisorService::start(spec).await?;
        eprintln!("clnrm: advisor at {}", service.base_url());
        Ok(Some(service))
    }

    /// Removes the `--ai-service` server; a failure to remove it is a warning (the command's
    /// work is done, and the next start's sweep removes what is left).
    pub(crate) async fn stop_service(service: Option<AdvisorService>) {
        if let Some(service) = service
            && let Err(e) = service.stop().await
        {
            eprintln!("warning: the advisor's model server was not removed: {e}");
        }
    }

    /// The advisor's configuration, `None` with `--no-ai`; pointed at `service` when one was
    /// started.
    pub(crate) fn config(
        &self,
        service: Option<&AdvisorService>,
    ) -> Result<Option<AiConfig>, CliError> {
        if self.no_ai {
            return Ok(None);
        }
        // `CLNRM_AI_*`, else the `[ai]` table of the project's clnrm.toml.
        let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
        let settings = clnrm::ai::config::with_project_file(&cwd, |k| std::env::var(k).ok())
            .map_err(clnrm::Error::from)?;
        let mut config = clnrm::ai::parse_ai_env(settings).map_err(clnrm::Error::from)?;
        if let Some(service) = service {
            service.apply(&mut config);
        }
        if let Some(url) = &self.ai_url {
            config.base_url = clnrm::ai::config::normalize_base_url(url).ok_or_else(|| {
                CliError::Invalid(format!(
                    "invalid --ai-url `{url}`: expected an http:// or https:// URL such as \
                     http://localhost:11434"
                ))
            })?;
        }
        if let Some(model) = &self.ai_model {
            config.model = Some(model.clone());
        }
        Ok(Some(config))
    }

    /// The notice for a command run without the LLM.
    pub(crate) fn skipped_notice(&self) -> Option<&'static str> {
        self.no_ai
            .then_some("notice: LLM advisor not asked (--no-ai); statistics only")
    }
}

/// The history store, or `None` with a warning (history is advice, never a requirement).
pub(crate) fn open_history() -> Option<HistoryStore> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let path = clnrm::history::default_history_path(&cwd, |k| std::env::var(k).ok());
    match HistoryStore::open(&path) {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("warning: no history: {e:?}");
            None
        }
    }
}

/// The tests of the workload and their history.
pub(crate) fn load_units(
    args: &WorkloadArgs,
    store: Option<&HistoryStore>,
) -> Result<WorkUnits, CliError> {
    let workload = match &args.target {
        Some(target) => Workload::Target(target.clone()),
        None => Workload::Suites(super::run::load_all(&args.paths)?),
    };
    Ok(WorkUnits::load(store, &workload)?)
}

/// `1.2 s` / `250 ms`.
pub(crate) fn secs(value: f64) -> String {
    if value < 1.0 {
        format!("{:.0} ms", value * 1000.0)
    } else {
        format!("{value:.1} s")
    }
}

/// `72 %`.
pub(crate) fn percent(p: f64) -> String {
    format!("{:>3.0} %", p * 100.0)
}
