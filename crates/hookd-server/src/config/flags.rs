//! The command line, built from [`SETTINGS`] rather than derived: `hookd serve` has a flag
//! and a `HOOKD_*` variable for every setting but the file-only ones ([`ServeArgs`]);
//! a command that only opens the database (`prune`) for the database settings
//! ([`StoreArgs`]). Both also take `--config`. Clap reads the variable when the flag is
//! absent, so a [`Layer`] from here is "flags over environment".

use super::declare::Scope;
use super::{Layer, SETTINGS};
use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The flags and variables of `hookd serve`.
#[derive(Clone, Default)]
pub struct ServeArgs {
    /// `--config`: the file to read instead of `./hookd.toml`.
    pub config: Option<PathBuf>,
    /// What the flags and variables give (the file-only settings are `None`).
    pub flags: Layer,
}

/// The flags and variables of a command that opens the database and nothing else
/// (`prune`): `--config` and the database settings.
#[derive(Clone, Default)]
pub struct StoreArgs {
    /// `--config`: the file to read instead of `./hookd.toml`.
    pub config: Option<PathBuf>,
    /// What the flags and variables give (only the database settings can be set).
    pub flags: Layer,
}

/// Implements clap's traits for a struct of `config` and `flags`, offering the flags of
/// the settings in `$scopes`.
macro_rules! command_line {
    ($args:ident offers $($scope:ident)+) => {
        impl clap::Args for $args {
            fn augment_args(cmd: Command) -> Command {
                augment(cmd, &[$(Scope::$scope),+])
            }
            fn augment_args_for_update(cmd: Command) -> Command {
                Self::augment_args(cmd)
            }
        }

        impl FromArgMatches for $args {
            fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
                Ok(Self {
                    config: value(matches, "config")?,
                    flags: Layer::from_matches(matches, &[$(Scope::$scope),+])?,
                })
            }
            fn update_from_arg_matches(
                &mut self,
                matches: &ArgMatches,
            ) -> Result<(), clap::Error> {
                *self = Self::from_arg_matches(matches)?;
                Ok(())
            }
        }
    };
}

command_line!(ServeArgs offers Store Serve);
command_line!(StoreArgs offers Store);

/// `cmd` with `--config` and the flag of every setting in `scopes`, in declaration order.
fn augment(cmd: Command, scopes: &[Scope]) -> Command {
    let config = Arg::new("config")
        .long("config")
        .env("HOOKD_CONFIG")
        .value_name("CONFIG")
        .value_parser(clap::value_parser!(PathBuf))
        .action(ArgAction::Set)
        .help("Configuration file (TOML). Default: `./hookd.toml` when it exists.");
    SETTINGS
        .iter()
        .filter(|s| scopes.contains(&s.scope))
        .fold(cmd.arg(config), |cmd, setting| {
            let (Some(flag), Some(env)) = (setting.flag(), setting.env()) else {
                return cmd;
            };
            let arg = Arg::new(setting.name)
                .long(flag.trim_start_matches("--").to_owned())
                .env(env)
                .hide_env_values(setting.secret)
                .value_name(setting.name.to_uppercase())
                .action(ArgAction::Set)
                .help(setting.help());
            cmd.arg((setting.parser)(arg))
        })
}

/// The value clap parsed for the argument `id`, if any.
pub(super) fn value<T: Clone + Send + Sync + 'static>(
    matches: &ArgMatches,
    id: &str,
) -> Result<Option<T>, clap::Error> {
    matches
        .try_get_one::<T>(id)
        .map(Option::<&T>::cloned)
        .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, format!("{id}: {e}\n")))
}

/// How a flag and its variable read a `given` type.
pub trait FlagValue: Clone + Send + Sync + 'static {
    /// `arg` with the value parser for this type.
    fn parser(arg: Arg) -> Arg;
}

/// Types clap parses as it would for a derived `Option<T>` field.
macro_rules! parsed_by_clap {
    ($($ty:ty),*) => {$(
        impl FlagValue for $ty {
            fn parser(arg: Arg) -> Arg {
                arg.value_parser(clap::value_parser!($ty))
            }
        }
    )*};
}

parsed_by_clap!(SocketAddr, String, PathBuf, f64, usize, u64);

/// A boolean flag is a switch (`--https-only`) that also takes a value
/// (`--https-only=false`); its variable takes `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
impl FlagValue for bool {
    fn parser(arg: Arg) -> Arg {
        arg.value_name("BOOL")
            .num_args(0..=1)
            .default_missing_value("true")
            .value_parser(BoolishValueParser::new())
    }
}

/// A list is comma-separated on the command line; its items are read by the rule.
impl<T: Clone + Send + Sync + 'static> FlagValue for List<T> {
    fn parser(arg: Arg) -> Arg {
        arg.value_parser(|text: &str| Ok::<_, Infallible>(List::<T>::from(text)))
    }
}

/// A list setting: comma-separated text on the command line and in the environment, an
/// array of `T` in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum List<T> {
    /// As the command line gives it.
    Text(String),
    /// As the file gives it.
    Items(Vec<T>),
}

impl<T: ToString> List<T> {
    /// The items as text: the comma-separated pieces that are not blank, or the file's
    /// items as they are.
    pub fn items(&self) -> Vec<String> {
        match self {
            Self::Text(text) => text
                .split(',')
                .filter(|piece| !piece.trim().is_empty())
                .map(str::to_owned)
                .collect(),
            Self::Items(items) => items.iter().map(ToString::to_string).collect(),
        }
    }
}

impl<T> From<&str> for List<T> {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl<T> std::str::FromStr for List<T> {
    type Err = Infallible;
    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self::from(text))
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for List<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(Self::Items)
    }
}
