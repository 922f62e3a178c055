//! `scimd admin create NAME [--password-stdin]` and `scimd admin reset-password NAME`.

use crate::admin_auth::{check_password, generate_password, hash_password};
use crate::settings::StorageArgs;
use anyhow::{Context, bail};
use clap::Subcommand;
use domain::ports::{Store, StoreError};
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a console administrator. Without --password-stdin a password is generated and
    /// printed once.
    Create {
        name: String,
        /// Read the password from standard input (at least 12 characters; one line).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Give an administrator a new password (generated and printed once, or from
    /// --password-stdin) and end all of its console sessions.
    ResetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// List administrators (never their passwords).
    List {
        #[command(flatten)]
        storage: StorageArgs,
    },
}

fn password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((generate_password(), true));
    }
    let mut text = String::new();
    std::io::stdin().take(64 * 1024).read_to_string(&mut text).context("cannot read the password from stdin")?;
    let password = text.trim_end_matches(['\r', '\n']).to_owned();
    check_password(&password).map_err(anyhow::Error::msg)?;
    Ok((password, false))
}

/// Creates an administrator; returns the password when it was generated.
pub async fn create(store: &dyn Store, name: &str, password: Option<String>) -> anyhow::Result<Option<String>> {
    domain::admin::check_admin_name(name)?;
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (generate_password(), true),
    };
    let hash = hash_password(password.clone()).await?;
    store.create_admin(name, &hash).await.map_err(|e| match e {
        StoreError::Conflict(m) => anyhow::anyhow!("{m}; `scimd admin reset-password {name}` sets a new password"),
        other => other.into(),
    })?;
    Ok(generated.then_some(password))
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Create { name, password_stdin, storage } => {
            let store = open(&storage).await?;
            let (pw, generated) = password(password_stdin)?;
            create(store.as_ref(), &name, Some(pw.clone())).await?;
            println!("created administrator {name:?}");
            if generated {
                println!("  Password: {pw}");
                println!("  (shown only this once; `scimd admin reset-password {name}` sets a new one)");
            }
        }
        AdminCommand::ResetPassword { name, password_stdin, storage } => {
            let store = open(&storage).await?;
            let (pw, generated) = password(password_stdin)?;
            let hash = hash_password(pw.clone()).await?;
            match store.set_admin_password(&name, &hash).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => bail!("no administrator named {name:?} (see `scimd admin list`)"),
                Err(e) => return Err(e.into()),
            }
            println!("new password set for administrator {name:?}; its console sessions have ended");
            if generated {
                println!("  Password: {pw}");
                println!("  (shown only this once)");
            }
        }
        AdminCommand::List { storage } => {
            let store = open(&storage).await?;
            println!("NAME\tCREATED\tLAST SIGN-IN");
            for a in store.list_admins().await? {
                println!(
                    "{}\t{}\t{}",
                    a.name,
                    domain::format_timestamp(a.created),
                    a.last_login.map(domain::format_timestamp).unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    Ok(())
}

async fn open(storage: &StorageArgs) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    store::open(&storage.store_options()).await.map_err(anyhow::Error::msg)
}
