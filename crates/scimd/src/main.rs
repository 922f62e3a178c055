//! `scimd`: the command line. Run `scimd --help`.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use domain::ports::Store;
use domain::service::ServiceParams;
use domain::token::TokenScope;
use scimd::settings::{ServeArgs, StorageArgs};
use std::sync::Arc;

// JSON handling allocates many small objects per request; mimalloc serves them faster than the
// system allocator, and keeps memory compact.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "scimd",
    version,
    about = "SCIM 2.0 provisioning target for Microsoft Entra ID: the user directory of an MFA service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(StorageArgs),
    /// Manage services (tenants).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage console administrators.
    #[command(subcommand)]
    Admin(scimd::admin_cli::AdminCommand),
    /// Act on users (resend the activation email).
    #[command(subcommand)]
    User(scimd::mail_cli::UserCommand),
    /// Inspect and requeue queued emails (the outbox).
    #[command(subcommand)]
    Outbox(scimd::mail_cli::OutboxCommand),
    /// Show a service's provisioning log (every SCIM request), newest first.
    Log {
        #[arg(long)]
        service: String,
        /// Only failed requests (status 400 and above).
        #[arg(long)]
        failed: bool,
        /// Most entries to show (at most 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line instead of tab-separated text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Create a service.
    Create {
        name: String,
        /// Do not send activation emails to users created in this service.
        #[arg(long)]
        no_activation_email: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List services.
    List {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Set service parameters: `scimd service set NAME send_activation_email=false …`.
    Set {
        name: String,
        /// `parameter=value` pairs.
        #[arg(required = true)]
        assignments: Vec<String>,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Show a service's parameters.
    Show {
        name: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; prints only the token on stdout.
    Create {
        #[arg(long)]
        service: String,
        #[arg(long, default_value = "scim")]
        scope: String,
        /// Days until the token expires (default: never; Entra quarantines on expired tokens).
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List tokens (never the secrets).
    List {
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Revoke a token by id (running servers refuse it within a second).
    Revoke {
        id: i64,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    // tokio-postgres logs every statement with its parameters at debug level: activation codes
    // (outbox payloads) and user attributes. Never below info, whatever RUST_LOG asks
    // (issue 8, tests/secrets).
    let filter = match "tokio_postgres=info".parse() {
        Ok(quiet) => filter.add_directive(quiet),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn open(storage: &StorageArgs) -> anyhow::Result<Arc<dyn Store>> {
    store::open(&storage.store_options()).await.map_err(anyhow::Error::msg)
}

async fn service_named(store: &dyn Store, name: &str) -> anyhow::Result<domain::service::Service> {
    store.service_by_name(name).await?.with_context(|| format!("no service named {name:?} (see `scimd service list`)"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    init_tracing();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let app = scimd::startup::Application::build(&args).await?;
            let addr = app.local_addr()?;
            println!("scimd listening on http://{addr}");
            app.run_until_stopped().await
        }
        Command::Migrate(storage) => {
            open(&storage).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Service(cmd) => service_command(cmd).await,
        Command::Token(cmd) => token_command(cmd).await,
        Command::Admin(cmd) => scimd::admin_cli::run(cmd).await,
        Command::User(cmd) => scimd::mail_cli::user_command(cmd).await,
        Command::Outbox(cmd) => scimd::mail_cli::outbox_command(cmd).await,
        Command::Log { service, failed, limit, json, storage } => {
            log_command(&service, failed, limit, json, &storage).await
        }
    }
}

async fn log_command(service: &str, failed: bool, limit: u32, json: bool, storage: &StorageArgs) -> anyhow::Result<()> {
    let store = open(storage).await?;
    let service = service_named(store.as_ref(), service).await?;
    let query = domain::audit::LogQuery {
        failed: failed.then_some(true),
        limit: limit.clamp(1, 1000),
        ..domain::audit::LogQuery::default()
    };
    let entries = store.query_log(service.id, &query).await?;
    if !json {
        println!("TIME\tREQUEST ID\tMETHOD\tRESOURCE\tOPERATION\tSTATUS\tDETAIL\tWARNINGS");
    }
    for stored in entries {
        let e = stored.entry;
        let time = domain::format_timestamp(e.time);
        if json {
            let line = serde_json::json!({
                "id": stored.id,
                "time": time,
                "requestId": e.request_id,
                "method": e.method,
                "resourceType": e.resource_type,
                "resourceId": e.resource_id,
                "operation": e.operation,
                "status": e.status,
                "detail": e.error_detail,
                "warnings": e.warnings,
            });
            println!("{line}");
        } else {
            let resource = match &e.resource_id {
                Some(id) => format!("{}/{id}", e.resource_type),
                None => e.resource_type.clone(),
            };
            println!(
                "{time}\t{}\t{}\t{resource}\t{}\t{}\t{}\t{}",
                e.request_id,
                e.method,
                e.operation,
                e.status,
                e.error_detail.as_deref().unwrap_or("-"),
                if e.warnings.is_empty() { "-".to_owned() } else { e.warnings.join("; ") }
            );
        }
    }
    Ok(())
}

async fn service_command(cmd: ServiceCommand) -> anyhow::Result<()> {
    match cmd {
        ServiceCommand::Create { name, no_activation_email, storage } => {
            let store = open(&storage).await?;
            let params = ServiceParams { send_activation_email: !no_activation_email, ..ServiceParams::default() };
            let s = store.create_service(&name, params).await?;
            println!("created service {:?} (id {})", s.name, s.id.0);
        }
        ServiceCommand::List { storage } => {
            let store = open(&storage).await?;
            for s in store.list_services().await? {
                println!("{}\t{}\tcreated {}", s.id.0, s.name, domain::format_timestamp(s.created));
            }
        }
        ServiceCommand::Set { name, assignments, storage } => {
            let store = open(&storage).await?;
            let service = service_named(store.as_ref(), &name).await?;
            let mut params = service.params.clone();
            for a in &assignments {
                let Some((k, v)) = a.split_once('=') else { bail!("expected parameter=value, got {a:?}") };
                params.set(k.trim(), v.trim())?;
            }
            store.update_service_params(service.id, params).await?;
            println!("updated service {name:?}");
        }
        ServiceCommand::Show { name, storage } => {
            let store = open(&storage).await?;
            let service = service_named(store.as_ref(), &name).await?;
            println!("{}", serde_json::to_string_pretty(&service.params)?);
        }
    }
    Ok(())
}

async fn token_command(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { service, scope, expires_in_days, description, storage } => {
            let store = open(&storage).await?;
            let scope: TokenScope = scope.parse().map_err(anyhow::Error::msg)?;
            let service = service_named(store.as_ref(), &service).await?;
            let expires = expires_in_days.map(|d| domain::now() + time::Duration::days(i64::from(d)));
            let (secret, _) = scimd::tokens::issue(store.as_ref(), service.id, scope, &description, expires).await?;
            println!("{secret}");
        }
        TokenCommand::List { service, storage } => {
            let store = open(&storage).await?;
            let service_id = match service {
                Some(name) => Some(service_named(store.as_ref(), &name).await?.id),
                None => None,
            };
            let names: std::collections::HashMap<_, _> =
                store.list_services().await?.into_iter().map(|s| (s.id, s.name)).collect();
            println!("ID\tSERVICE\tSCOPE\tPREFIX\tCREATED\tEXPIRES\tLAST USED\tREVOKED");
            let show = |t: Option<domain::Timestamp>| t.map(domain::format_timestamp).unwrap_or_else(|| "-".into());
            for t in store.list_tokens(service_id).await? {
                println!(
                    "{}\t{}\t{}\t{}…\t{}\t{}\t{}\t{}",
                    t.id,
                    names.get(&t.service).map(String::as_str).unwrap_or("?"),
                    t.scope.as_str(),
                    t.prefix,
                    domain::format_timestamp(t.created),
                    show(t.expires_at),
                    show(t.last_used),
                    show(t.revoked_at)
                );
            }
        }
        TokenCommand::Revoke { id, storage } => {
            let store = open(&storage).await?;
            store.revoke_token(None, id).await.map_err(|e| match e {
                domain::ports::StoreError::NotFound => anyhow::anyhow!("no token with id {id}"),
                other => other.into(),
            })?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}
