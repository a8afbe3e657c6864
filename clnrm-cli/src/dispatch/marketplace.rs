//! `clnrm marketplace ...`: arguments and output only; everything else is `clnrm::marketplace`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use clnrm::marketplace::{
    self, InstallOptions, Location, OpenOptions, SearchSort, index, publish, sign, store,
};

use crate::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum MarketplaceCommand {
    /// Find plugins by name or description, category and tag; a table, or `--json`.
    Search(SearchArgs),
    /// A plugin's versions, dependencies, publisher, signature state, README and reviews.
    Info(InfoArgs),
    /// Installed plugins with their source and verification state.
    List(ListArgs),
    /// Resolve, download, verify, then install NAME[@REQ] and its dependencies; updates clnrm.lock.
    Install(InstallArgs),
    /// Remove an installed plugin (refused while another installed plugin depends on it).
    Uninstall(UninstallArgs),
    /// Installed plugins with a newer version in the index.
    Outdated(IndexArgs),
    /// Install the newest compatible version of every installed plugin.
    Update(InstallFlags),
    /// Validate, pack, sign and add a plugin folder to a folder index; re-sign the snapshot.
    Publish(PublishArgs),
    /// Mark a version yanked in a folder index (new installs skip it; locked projects keep it).
    Yank(YankArgs),
    /// Add a signed review (rating 1-5) to a folder index; the latest review per key counts
    /// (alias `rate`).
    #[command(alias = "rate")]
    Review(ReviewArgs),
    /// Key pairs (minisign format).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Create and administer a folder index (root keys, publishers).
    Index {
        #[command(subcommand)]
        command: IndexCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Write PREFIX.pub and PREFIX.key (unencrypted, mode 0600).
    Generate {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum IndexCommand {
    /// Create an index in DIR whose root key is --key.
    Init {
        dir: PathBuf,
        #[arg(long)]
        key: PathBuf,
        #[arg(long, default_value_t = publish::DEFAULT_EXPIRY_DAYS)]
        expiry_days: u64,
    },
    /// Allow a publisher key to sign some plugin names (a new root version).
    Allow {
        dir: PathBuf,
        /// The index (root) secret key.
        #[arg(long)]
        key: PathBuf,
        /// The publisher's public key file (or base64).
        #[arg(long)]
        publisher: String,
        /// Comma-separated names, or `*`.
        #[arg(long, value_delimiter = ',')]
        names: Vec<String>,
        #[arg(long, default_value_t = publish::DEFAULT_EXPIRY_DAYS)]
        expiry_days: u64,
    },
    /// Replace the root key: the new root is signed by the old and the new key.
    Rotate {
        dir: PathBuf,
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        new_key: PathBuf,
        #[arg(long, default_value_t = publish::DEFAULT_EXPIRY_DAYS)]
        expiry_days: u64,
    },
    /// Re-sign the snapshot with a new serial and expiry (nothing else changes).
    Resign {
        dir: PathBuf,
        #[arg(long)]
        key: PathBuf,
        #[arg(long, default_value_t = publish::DEFAULT_EXPIRY_DAYS)]
        expiry_days: u64,
    },
}

#[derive(Debug, Args)]
pub(crate) struct IndexArgs {
    /// The index: a folder or an http(s):// base URL (default: $CLNRM_INDEX).
    #[arg(long)]
    index: Option<String>,
    /// Pin the index's root key on first use (a .pub file or base64).
    #[arg(long)]
    root_key: Option<String>,
    /// Accept an expired snapshot (warns).
    #[arg(long)]
    allow_expired: bool,
}

impl IndexArgs {
    async fn open(&self) -> Result<marketplace::Index, CliError> {
        let location = index::location_from(self.index.as_deref()).map_err(clnrm::Error::from)?;
        let root_key = match &self.root_key {
            Some(k) if Path::new(k).is_file() => Some(read_text(Path::new(k))?),
            other => other.clone(),
        };
        let idx = marketplace::Index::open(
            location,
            &OpenOptions {
                root_key,
                allow_expired: self.allow_expired,
            },
        )
        .await?;
        notice_first_use(&idx.location, idx.first_use.as_deref());
        Ok(idx)
    }
}

fn notice_first_use(location: &Location, keys: Option<&[String]>) {
    if let Some(keys) = keys {
        eprintln!(
            "notice: trusting {} on first use: root key {} (pin it with --root-key)",
            location.id(),
            keys.join(", ")
        );
    }
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Text in the name or description (empty: everything).
    #[arg(default_value = "")]
    query: String,
    #[arg(long)]
    category: Option<String>,
    #[arg(long)]
    tag: Option<String>,
    /// `name` or `rating`.
    #[arg(long, default_value = "name")]
    sort: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    index: IndexArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    name: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    index: IndexArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InstallFlags {
    #[command(flatten)]
    index: IndexArgs,
    /// Install packages that have no signature (marked unverified).
    #[arg(long)]
    allow_unsigned: bool,
    /// Fail if clnrm.lock would change.
    #[arg(long)]
    locked: bool,
    /// Use only the store and clnrm.lock; contact no index.
    #[arg(long)]
    offline: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// NAME, NAME@VERSION or NAME@REQUIREMENT (`mariadb@^1`).
    #[arg(required = true)]
    plugins: Vec<String>,
    #[command(flatten)]
    flags: InstallFlags,
}

#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    /// NAME or NAME@VERSION.
    plugin: String,
    /// Remove it even if installed plugins depend on it.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The plugin folder (plugin.toml, README.md, LICENSE).
    dir: PathBuf,
    /// The folder index to add it to.
    #[arg(long)]
    index: PathBuf,
    /// The publisher's secret key.
    #[arg(long)]
    key: PathBuf,
    /// The index (root) secret key, to re-sign the snapshot.
    #[arg(long)]
    index_key: PathBuf,
    #[arg(long, default_value_t = publish::DEFAULT_EXPIRY_DAYS)]
    expiry_days: u64,
}

#[derive(Debug, Args)]
pub(crate) struct YankArgs {
    /// NAME@VERSION.
    plugin: String,
    /// Undo a yank.
    #[arg(long)]
    undo: bool,
    /// The folder index.
    #[arg(long)]
    index: PathBuf,
    /// The index (root) secret key, to re-sign the snapshot.
    #[arg(long)]
    index_key: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    /// NAME@VERSION reviewed.
    plugin: String,
    /// 1 to 5.
    #[arg(long)]
    rating: u8,
    #[arg(long, default_value = "")]
    comment: String,
    /// Withdraw this key's review instead.
    #[arg(long)]
    withdraw: bool,
    /// The reviewer's secret key.
    #[arg(long)]
    key: PathBuf,
    /// The folder index.
    #[arg(long)]
    index: PathBuf,
    /// The index (root) secret key, to re-sign the snapshot.
    #[arg(long)]
    index_key: PathBuf,
}

fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| {
        clnrm::Error::Io {
            action: "failed to read",
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_default()
}

pub(crate) async fn run(command: MarketplaceCommand) -> Result<(), CliError> {
    match command {
        MarketplaceCommand::Keys {
            command: KeysCommand::Generate { prefix },
        } => keys_generate(&prefix),
        MarketplaceCommand::Index { command } => index_command(command),
        MarketplaceCommand::Publish(a) => {
            let publisher = sign::SigningKey::load(&a.key)?;
            let index_key = sign::SigningKey::load(&a.index_key)?;
            let p = publish::publish(&a.index, &a.dir, &publisher, &index_key, a.expiry_days)?;
            println!(
                "published {} {} ({}) to {}; snapshot serial {}",
                p.line.name,
                p.line.vers,
                p.line.cksum,
                a.index.display(),
                p.serial
            );
            Ok(())
        }
        MarketplaceCommand::Yank(a) => {
            let Some((name, version)) = a.plugin.split_once('@') else {
                return Err(CliError::Invalid(format!(
                    "`{}`: expected NAME@VERSION",
                    a.plugin
                )));
            };
            let index_key = sign::SigningKey::load(&a.index_key)?;
            publish::yank(
                &a.index,
                &index_key,
                name,
                version,
                !a.undo,
                publish::DEFAULT_EXPIRY_DAYS,
            )?;
            println!(
                "{} {name} {version}",
                if a.undo { "unyanked" } else { "yanked" }
            );
            Ok(())
        }
        MarketplaceCommand::Review(a) => {
            let (name, req) = marketplace::parse_request(&a.plugin)?;
            let version = req.to_string().trim_start_matches('=').to_owned();
            let reviewer = sign::SigningKey::load(&a.key)?;
            let index_key = sign::SigningKey::load(&a.index_key)?;
            let body = publish::ReviewBody {
                plugin: name.clone(),
                version,
                rating: a.rating,
                comment: a.comment,
                key: reviewer.public_base64(),
                time: index::now_unix(),
                active: !a.withdraw,
            };
            publish::add_review(
                &a.index,
                &index_key,
                &reviewer,
                body,
                publish::DEFAULT_EXPIRY_DAYS,
            )?;
            println!("review of {name} recorded in {}", a.index.display());
            Ok(())
        }
        MarketplaceCommand::Search(a) => search(a).await,
        MarketplaceCommand::Info(a) => info(a).await,
        MarketplaceCommand::List(a) => list(a),
        MarketplaceCommand::Install(a) => {
            let requests = a
                .plugins
                .iter()
                .map(|p| marketplace::parse_request(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(clnrm::Error::from)?;
            install(&requests, &a.flags).await
        }
        MarketplaceCommand::Uninstall(a) => {
            let (name, version) = match a.plugin.split_once('@') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (a.plugin.clone(), None),
            };
            let removed = store::uninstall(&name, version.as_deref(), a.force)?;
            for r in removed {
                println!("uninstalled {} {}", r.receipt.name, r.receipt.version);
            }
            Ok(())
        }
        MarketplaceCommand::Outdated(a) => {
            let outdated = outdated(&a).await?;
            if outdated.is_empty() {
                println!("every installed plugin is at its newest version");
            }
            for (name, have, newest) in outdated {
                println!("{name} {have} -> {newest}");
            }
            Ok(())
        }
        MarketplaceCommand::Update(flags) => {
            let names: Vec<String> = outdated(&flags.index)
                .await?
                .into_iter()
                .map(|(n, _, _)| n)
                .collect();
            if names.is_empty() {
                println!("nothing to update");
                return Ok(());
            }
            let requests: Vec<_> = names
                .into_iter()
                .map(|n| (n, semver::VersionReq::STAR))
                .collect();
            install_with(&requests, &flags, true).await
        }
    }
}

async fn install(
    requests: &[(String, semver::VersionReq)],
    flags: &InstallFlags,
) -> Result<(), CliError> {
    install_with(requests, flags, false).await
}

async fn install_with(
    requests: &[(String, semver::VersionReq)],
    flags: &InstallFlags,
    update: bool,
) -> Result<(), CliError> {
    if update && flags.locked {
        return Err(CliError::Invalid(
            "update changes clnrm.lock; it cannot be --locked".to_owned(),
        ));
    }
    let location = if flags.offline {
        Location::Dir(PathBuf::new())
    } else {
        index::location_from(flags.index.index.as_deref()).map_err(clnrm::Error::from)?
    };
    let root_key = match &flags.index.root_key {
        Some(k) if Path::new(k).is_file() => Some(read_text(Path::new(k))?),
        other => other.clone(),
    };
    let options = InstallOptions {
        index: location.clone(),
        open: OpenOptions {
            root_key,
            allow_expired: flags.index.allow_expired,
        },
        allow_unsigned: flags.allow_unsigned,
        locked: flags.locked,
        offline: flags.offline,
        project: marketplace::lockfile::project_dir(&cwd()),
        update,
    };
    let report = marketplace::install(requests, &options).await?;
    notice_first_use(&location, report.first_use.as_deref());
    for p in &report.plugins {
        let state = if p.verified {
            "verified"
        } else {
            "UNVERIFIED (unsigned)"
        };
        let what = if p.written {
            "installed"
        } else {
            "already installed"
        };
        println!("{what} {} {} ({state})", p.line.name, p.line.vers);
        if !p.verified {
            eprintln!(
                "warning: {} {} has no signature; it is marked unverified",
                p.line.name, p.line.vers
            );
        }
    }
    Ok(())
}

async fn outdated(args: &IndexArgs) -> Result<Vec<(String, String, String)>, CliError> {
    let installed = store::list_installed()?;
    let idx = args.open().await?;
    let mut out = Vec::new();
    let mut names: Vec<&str> = installed.iter().map(|i| i.receipt.name.as_str()).collect();
    names.dedup();
    for name in names {
        let have = installed
            .iter()
            .filter(|i| i.receipt.name == name)
            .filter_map(|i| semver::Version::parse(&i.receipt.version).ok())
            .max();
        let newest = idx
            .versions(name)
            .await
            .map_err(clnrm::Error::from)?
            .into_iter()
            .filter(|l| !l.yanked)
            .filter_map(|l| l.version())
            .max();
        if let (Some(have), Some(newest)) = (have, newest)
            && newest > have
        {
            out.push((name.to_owned(), have.to_string(), newest.to_string()));
        }
    }
    Ok(out)
}

fn keys_generate(prefix: &Path) -> Result<(), CliError> {
    let public = prefix.with_extension("pub");
    let secret = prefix.with_extension("key");
    for p in [&public, &secret] {
        if p.exists() {
            return Err(CliError::Invalid(format!(
                "{} exists; refusing to overwrite a key",
                p.display()
            )));
        }
    }
    let (pk, sk) = sign::generate_keypair("clnrm secret key")?;
    store::write_atomic(&public, pk.as_bytes())?;
    store::write_atomic(&secret, sk.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600));
    }
    let key = sign::parse_public_key(&pk)?;
    println!(
        "key {}: public {}, secret {}",
        sign::key_id(&key),
        public.display(),
        secret.display()
    );
    Ok(())
}

fn index_command(command: IndexCommand) -> Result<(), CliError> {
    match command {
        IndexCommand::Init {
            dir,
            key,
            expiry_days,
        } => {
            let key = sign::SigningKey::load(&key)?;
            publish::init_index(&dir, &key, expiry_days)?;
            println!("index created in {}", dir.display());
        }
        IndexCommand::Allow {
            dir,
            key,
            publisher,
            names,
            expiry_days,
        } => {
            let key = sign::SigningKey::load(&key)?;
            let publisher = if Path::new(&publisher).is_file() {
                read_text(Path::new(&publisher))?
            } else {
                publisher
            };
            let v = publish::allow_publisher(&dir, &key, &publisher, &names, expiry_days)?;
            println!("root version {v}: publisher may sign {}", names.join(", "));
        }
        IndexCommand::Rotate {
            dir,
            key,
            new_key,
            expiry_days,
        } => {
            let old = sign::SigningKey::load(&key)?;
            let new = sign::SigningKey::load(&new_key)?;
            let v = publish::rotate_root(&dir, &old, &new, expiry_days)?;
            println!("root version {v} signed by the old and the new key");
        }
        IndexCommand::Resign {
            dir,
            key,
            expiry_days,
        } => {
            let key = sign::SigningKey::load(&key)?;
            let snap: index::Snapshot = index::parse_json(
                "snapshot.json",
                &std::fs::read(dir.join("snapshot.json")).unwrap_or_default(),
            )?;
            publish::resign_snapshot(&dir, &key, snap.root_version, expiry_days, None)?;
            println!("snapshot re-signed");
        }
    }
    Ok(())
}

async fn search(a: SearchArgs) -> Result<(), CliError> {
    let sort = match a.sort.as_str() {
        "name" => SearchSort::Name,
        "rating" => SearchSort::Rating,
        other => {
            return Err(CliError::Invalid(format!(
                "--sort {other}: expected `name` or `rating`"
            )));
        }
    };
    let idx = a.index.open().await?;
    let entries = idx.search_entries().await.map_err(clnrm::Error::from)?;
    let found = marketplace::search(
        &entries,
        &a.query,
        a.category.as_deref(),
        a.tag.as_deref(),
        sort,
    );
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<16} {:<8} {:<10} {:<18} DESCRIPTION",
        "NAME", "VERSION", "RATING", "CATEGORIES"
    );
    for e in found {
        let rating = e
            .rating
            .map(|r| format!("{r:.1} ({})", e.reviews))
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{:<16} {:<8} {:<10} {:<18} {}",
            e.name,
            e.latest,
            rating,
            e.categories.join(","),
            e.description
        );
    }
    Ok(())
}

async fn info(a: InfoArgs) -> Result<(), CliError> {
    let idx = a.index.open().await?;
    let lines = idx.versions(&a.name).await.map_err(clnrm::Error::from)?;
    let Some(latest) = lines
        .iter()
        .filter(|l| !l.yanked)
        .max_by_key(|l| l.version())
    else {
        return Err(CliError::Invalid(format!(
            "no plugin `{}` in {}",
            a.name,
            idx.location.id()
        )));
    };
    let (bytes, signer) = idx
        .fetch_package(latest, true)
        .await
        .map_err(clnrm::Error::from)?;
    let signed = signer.is_some();
    let what = idx
        .location
        .describe(&index::package_path(&latest.name, &latest.vers));
    let files = marketplace::package::read_package(&what, &bytes).map_err(clnrm::Error::from)?;
    let reviews = idx
        .file_opt(&format!("reviews/{}.jsonl", a.name))
        .await
        .map_err(clnrm::Error::from)?
        .map(|b| publish::active_reviews(&b))
        .unwrap_or_default();
    let readme = files
        .get("README.md")
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let publisher = sign::parse_public_key(&latest.publisher)
        .map(|k| sign::key_id(&k))
        .unwrap_or_else(|_| latest.publisher.clone());
    if a.json {
        let value = serde_json::json!({
            "name": a.name,
            "versions": lines,
            "latest": latest.vers,
            "publisher": publisher,
            "signature": if signed { "verified" } else { "unsigned" },
            "readme": readme,
            "reviews": reviews,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    println!("{} {} — {}", latest.name, latest.vers, latest.description);
    println!("image: {}", latest.image);
    println!("clnrm: {}", latest.clnrm);
    let versions: Vec<String> = lines
        .iter()
        .map(|l| {
            if l.yanked {
                format!("{} (yanked)", l.vers)
            } else {
                l.vers.clone()
            }
        })
        .collect();
    println!("versions: {}", versions.join(", "));
    let deps: Vec<String> = latest
        .deps
        .iter()
        .map(|d| format!("{} {}", d.name, d.req))
        .collect();
    println!(
        "dependencies: {}",
        if deps.is_empty() {
            "none".to_owned()
        } else {
            deps.join(", ")
        }
    );
    println!(
        "publisher: {publisher}; signature: {}",
        if signed { "verified" } else { "UNSIGNED" }
    );
    if reviews.is_empty() {
        println!("reviews: none");
    } else {
        let avg = reviews.iter().map(|r| f64::from(r.rating)).sum::<f64>() / reviews.len() as f64;
        println!("reviews: {avg:.1} from {} key(s)", reviews.len());
        for r in &reviews {
            println!("  {}/5 ({}): {}", r.rating, r.version, r.comment);
        }
    }
    if !readme.is_empty() {
        println!("\n{readme}");
    }
    Ok(())
}

fn list(a: ListArgs) -> Result<(), CliError> {
    let installed = store::list_installed()?;
    if a.json {
        let receipts: Vec<_> = installed.iter().map(|i| &i.receipt).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&receipts).unwrap_or_default()
        );
        return Ok(());
    }
    if installed.is_empty() {
        println!("no plugins installed in {}", store::plugins_dir().display());
        return Ok(());
    }
    println!("{:<16} {:<8} {:<12} SOURCE", "NAME", "VERSION", "VERIFIED");
    for i in installed {
        println!(
            "{:<16} {:<8} {:<12} {}",
            i.receipt.name,
            i.receipt.version,
            if i.receipt.verified {
                "signed"
            } else {
                "UNSIGNED"
            },
            i.receipt.index
        );
    }
    Ok(())
}

/// The registry every command uses: built-ins, the project's plugin folder and the installed
/// plugins seen from the current directory. Plugins that could not be loaded are told on stderr
/// (the commands go on with the others).
pub(crate) fn registry() -> clnrm::Registry {
    let registry = clnrm::Registry::with_installed(&cwd());
    for problem in registry.problems() {
        eprintln!("warning: {problem}");
    }
    registry
}
