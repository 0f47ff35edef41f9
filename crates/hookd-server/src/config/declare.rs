//! How the one declaration in `settings.rs` becomes everything else: the
//! `declare_settings!` macro writes [`Layer`](super::Layer) (one source's values, and the
//! `hookd.toml` format), [`Config`](super::Config) (the validated values) and
//! [`SETTINGS`](super::SETTINGS) (the table `--help` and the docs test read), and layers
//! and validates with each row's default and rule. A row reads:
//!
//! ```text
//! /// Doc: the `--help` text and the `Config` field's doc.
//! #[setting(Serve, given = f64, default = "60", rule = seconds)]
//! lease: Duration,
//! ```
//!
//! - `Store` (a flag of every command that opens the database), `Serve` (a flag of `serve`
//!   only) or `File` (no flag, no variable);
//! - `given`: the type the file, the flag and the variable give;
//! - `default = "…"`: the value when no source gives one, written as on the command line;
//!   or `unset = "…"`: what being unset means (shown in `--help`), the rule then taking an
//!   `Option`;
//! - `rule`: `fn(name, given) -> anyhow::Result<field type>`, validating and converting
//!   (see `rules.rs`); it names the setting in its errors;
//! - a trailing `secret`: the value is hidden in `--help` (`hide_env_values`); its field
//!   type's `Debug` redacts it.

use std::fmt::Display;
use std::str::FromStr;

/// Which commands offer a setting on their command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A flag of every command that opens the database (`serve`, `prune`).
    Store,
    /// A flag of `serve` only.
    Serve,
    /// The file only: no flag, no variable.
    File,
}

/// One declared setting, as data.
#[derive(Debug)]
pub struct Setting {
    /// The file key and the `Config` field.
    pub name: &'static str,
    pub scope: Scope,
    /// The declaration's doc comment.
    pub doc: &'static str,
    /// What the setting is when no source gives it.
    pub default: Fallback,
    /// Hidden in `--help` even when its variable is set.
    pub secret: bool,
    /// Sets the flag's value parser for the `given` type (a switch for `bool`).
    pub(super) parser: fn(clap::Arg) -> clap::Arg,
}

impl Setting {
    /// `--name-with-dashes`; `None` for a file-only setting.
    pub fn flag(&self) -> Option<String> {
        (self.scope != Scope::File).then(|| format!("--{}", self.name.replace('_', "-")))
    }

    /// `HOOKD_NAME`; `None` for a file-only setting.
    pub fn env(&self) -> Option<String> {
        (self.scope != Scope::File).then(|| format!("HOOKD_{}", self.name.to_uppercase()))
    }

    /// The doc comment as one line (its last period dropped, as clap does), then the
    /// default.
    pub fn help(&self) -> String {
        let doc = self.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        let (Fallback::Value(default) | Fallback::Unset(default)) = self.default;
        format!("{} [default: {default}]", doc.trim_end_matches('.'))
    }
}

/// What a setting is when no source gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// This value, written as on the command line (`default = "…"`).
    Value(&'static str),
    /// Unset, which means this (`unset = "…"`).
    Unset(&'static str),
}

/// A `default = "…"` value, parsed as a flag's value is.
pub(super) fn default_value<T>(name: &str, text: &str) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    text.parse()
        .map_err(|e| anyhow::anyhow!("the default of {name} ({text:?}) does not parse: {e}"))
}

/// Writes `Layer`, `Config` and `SETTINGS` from the declaration (see the module doc).
macro_rules! declare_settings {
    (
        $(#[doc = $config_doc:literal])*
        pub struct Config {
            $(
                $(#[doc = $extra_doc:literal])*
                $extra:ident: $extra_ty:ty = $extra_init:expr,
            )*
        }
        settings {
            $(
                $(#[doc = $doc:literal])*
                #[setting($scope:ident, given = $given:ty, $when:ident = $default:literal,
                          rule = $rule:expr $(, $secret:ident)?)]
                $name:ident: $field:ty,
            )*
        }
    ) => {
        $(#[doc = $config_doc])*
        #[derive(Clone, Debug)]
        pub struct Config {
            $($(#[doc = $doc])* pub $name: $field,)*
            $($(#[doc = $extra_doc])* pub $extra: $extra_ty,)*
        }

        /// What one source says (the file, or the command line with its `HOOKD_*`
        /// variables): every setting in its `given` type, `None` where the source is
        /// silent. `hookd.toml` deserializes into it; unknown keys are refused.
        #[derive(Clone, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Layer {
            $($(#[doc = $doc])* pub $name: Option<$given>,)*
        }

        impl Layer {
            /// `self`, with `under`'s values where `self` has none.
            pub fn over(self, under: Layer) -> Layer {
                Layer { $($name: self.$name.or(under.$name),)* }
            }

            /// The values clap parsed for the settings whose flags are in `scopes`.
            pub(super) fn from_matches(
                matches: &clap::ArgMatches,
                scopes: &[$crate::config::declare::Scope],
            ) -> Result<Layer, clap::Error> {
                use $crate::config::declare::Scope;
                Ok(Layer {
                    $($name: if scopes.contains(&Scope::$scope) {
                        $crate::config::flags::value::<$given>(matches, stringify!($name))?
                    } else {
                        None
                    },)*
                })
            }

            /// Each setting's value, or its default, through its rule.
            pub(super) fn resolve(self) -> anyhow::Result<Config> {
                Ok(Config {
                    $($name: declare_settings!(
                        @resolve $name, $given, $when = $default, $rule, self.$name
                    ),)*
                    $($extra: $extra_init,)*
                })
            }
        }

        /// Every setting, in declaration order.
        pub const SETTINGS: &[$crate::config::declare::Setting] = &[
            $($crate::config::declare::Setting {
                name: stringify!($name),
                scope: $crate::config::declare::Scope::$scope,
                doc: concat!($($doc, "\n",)*),
                default: declare_settings!(@fallback $when = $default),
                secret: declare_settings!(@secret $($secret)?),
                parser: <$given as $crate::config::flags::FlagValue>::parser,
            },)*
        ];
    };

    (@resolve $name:ident, $given:ty, default = $default:literal, $rule:expr, $value:expr) => {
        ($rule)(
            stringify!($name),
            match $value {
                Some(value) => value,
                None => $crate::config::declare::default_value::<$given>(
                    stringify!($name),
                    $default,
                )?,
            },
        )?
    };
    (@resolve $name:ident, $given:ty, unset = $default:literal, $rule:expr, $value:expr) => {
        ($rule)(stringify!($name), $value)?
    };
    (@fallback default = $default:literal) => {
        $crate::config::declare::Fallback::Value($default)
    };
    (@fallback unset = $default:literal) => {
        $crate::config::declare::Fallback::Unset($default)
    };
    (@secret) => {
        false
    };
    (@secret secret) => {
        true
    };
}

pub(super) use declare_settings;
