//! Creates, lists and revokes sessions in a sessions table: as the application's
//! existing login (password, SSO) would, so the passkey-append flow can be tried, and
//! as an operator would, to see a user's sessions or end them all after an account
//! compromise.
//!
//! Uses the standard AWS SDK environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, credentials).

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::BehaviorVersion;
use clap::{Parser, Subcommand};
use connect_backend::config::DEFAULT_SESSION_TTL_SECONDS;
use connect_backend::{NewSession, SessionStore, SessionToken};

#[derive(Parser)]
#[command(about = "Create, list and revoke Corbado Connect backend sessions")]
struct Cli {
    /// The DynamoDB sessions table.
    #[arg(long, env = "SESSIONS_TABLE")]
    table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table with the schema the functions expect (for local stacks; deployments use template.yaml).
    CreateTable,
    /// Open a session for a user and print its token (the session cookie's value) on stdout.
    Create {
        /// The application's own user id; Corbado receives it as `identifier`.
        #[arg(long)]
        user_id: String,
        /// Shown as the passkey's name; defaults to the user id.
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, env = "SESSION_TTL_SECONDS", default_value_t = DEFAULT_SESSION_TTL_SECONDS)]
        ttl_seconds: u64,
    },
    /// Revoke a session; the token is read from stdin unless given.
    Revoke {
        #[arg(long)]
        token: Option<String>,
    },
    /// List a user's live sessions, oldest first: never their tokens. Sessions opened in
    /// the last second may be missing (the index is eventually consistent).
    List {
        #[arg(long)]
        user_id: String,
    },
    /// End every session of a user, e.g. after an account compromise.
    RevokeUser {
        #[arg(long)]
        user_id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = cli.table;
    // Only `create` opens sessions, so only it needs their lifetime.
    let store = |ttl| SessionStore::new(client.clone(), &table, ttl);
    match cli.command {
        Command::CreateTable => {
            connect_backend::session::create_table(&client, &table).await?;
            eprintln!("created table {table}");
        }
        Command::Create {
            user_id,
            display_name,
            ttl_seconds,
        } => {
            if user_id.trim().is_empty() {
                return Err("--user-id must not be empty".into());
            }
            let (token, session) = store(Duration::from_secs(ttl_seconds))
                .create(NewSession {
                    user_id,
                    display_name,
                    ..Default::default()
                })
                .await?;
            eprintln!(
                "session for {} expires at {} (epoch seconds)",
                session.user_id, session.expires_at
            );
            println!("{}", token.expose());
        }
        Command::Revoke { token } => {
            let raw = match token {
                Some(token) => token,
                None => std::io::stdin()
                    .lock()
                    .lines()
                    .next()
                    .transpose()?
                    .unwrap_or_default(),
            };
            let token = SessionToken::parse(raw.trim()).ok_or("that is not a session token")?;
            let existed = store(Duration::ZERO).revoke(&token).await?.is_some();
            eprintln!(
                "{}",
                if existed {
                    "revoked"
                } else {
                    "no such session"
                }
            );
        }
        Command::List { user_id } => {
            let sessions = store(Duration::ZERO).find_for_user(&user_id).await?;
            println!("key\tcreatedAt\texpiresAt\tcredentialId");
            for session in &sessions {
                println!(
                    "{}…\t{}\t{}\t{}",
                    // The reference the functions' log lines name the session by.
                    connect_backend::session::session_reference(&session.key),
                    session.created_at,
                    session.expires_at,
                    session.credential_id.as_deref().unwrap_or("-")
                );
            }
            eprintln!("{} live sessions of {user_id}", sessions.len());
        }
        Command::RevokeUser { user_id } => {
            let now = connect_backend::session::now_epoch_seconds();
            // An operator waits longer than a request may: a minute of retries at most.
            let deadline = connect_backend::deadline::Deadline::after(Duration::from_secs(60));
            let revoked = store(Duration::ZERO)
                .revoke_all_for_user(&user_id, now, deadline)
                .await?;
            eprintln!("revoked {revoked} live sessions of {user_id}");
        }
    }
    Ok(())
}
