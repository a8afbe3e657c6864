//! `clnrm plugins`

use crate::CliError;

pub(crate) async fn run() -> Result<(), CliError> {
    let registry = super::marketplace::registry();
    let images = clnrm::RunConfig::from_env()?.images;
    println!(
        "{:<10} {:<8} {:<18} {:<10} DESCRIPTION",
        "NAME", "VERSION", "IMAGE", "SOURCE"
    );
    for m in registry.metadata() {
        let image = m
            .default_image
            .clone()
            .unwrap_or_else(|| "(set per service)".to_owned());
        println!(
            "{:<10} {:<8} {:<18} {:<10} {}",
            m.name,
            m.version,
            image,
            m.source.to_string(),
            m.description
        );
    }
    for m in registry.metadata() {
        if let Some(image) = &m.default_image
            && let Some(note) = clnrm::docker::pin_note(image, &images.resolve(image))
        {
            println!("{}: {note}", m.name);
        }
    }
    let rules = images.rules();
    if !rules.is_empty() {
        let from = images
            .source
            .as_ref()
            .map(|p| format!(" ({})", p.display()))
            .unwrap_or_default();
        println!("\nimage substitution{from}:");
        for (from, to) in rules {
            println!("  {from} -> {to}");
        }
    }
    Ok(())
}
