//! A throw-away PostgreSQL schema per `--spawn` run, so every run starts empty and
//! leaves nothing behind on a shared server.

use anyhow::Context;
use rand::Rng;
use tokio_postgres::NoTls;

/// A schema created for this run; [`Self::drop_schema`] removes it with its contents.
pub struct BenchSchema {
    admin_url: String,
    name: String,
}

impl BenchSchema {
    /// Creates `hookd_bench_<random>` on the server `admin_url` names.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("hookd_bench_{:016x}", rand::thread_rng().gen::<u64>());
        connect(admin_url)
            .await?
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .with_context(|| format!("creating schema {name}"))?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL to hand to hookd: the admin URL confined to this schema.
    pub fn url(&self) -> String {
        with_search_path(&self.admin_url, &self.name)
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) -> anyhow::Result<()> {
        connect(&self.admin_url)
            .await?
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .with_context(|| format!("dropping schema {}", self.name))
    }
}

/// `url` with `options=-csearch_path=<schema>` appended as a query parameter.
fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting to PostgreSQL (--database-url)")?;
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            eprintln!("hookd-bench: PostgreSQL connection: {err}");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::with_search_path;

    #[test]
    fn search_path_is_appended_with_the_right_separator() {
        assert_eq!(
            with_search_path("postgres://u@h/db", "s1"),
            "postgres://u@h/db?options=-csearch_path%3Ds1"
        );
        assert_eq!(
            with_search_path("postgres://u@h/db?sslmode=disable", "s1"),
            "postgres://u@h/db?sslmode=disable&options=-csearch_path%3Ds1"
        );
    }
}
