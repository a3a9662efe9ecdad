//! How code is compiled: one [`CodeOptions`] value travels on every request, into the cache
//! key and onto the worker's wire, so the choices are made (and checked) in one place.

/// CPython's optimization level (`python -O`, `-OO`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Optimize {
    /// No optimization: asserts and docstrings stay.
    #[default]
    Zero,
    /// `-O`: asserts and `if __debug__:` blocks are dropped.
    One,
    /// `-OO`: docstrings are dropped too.
    Two,
}

/// An optimization level other than 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("optimize must be 0, 1 or 2, not {0}")]
pub struct InvalidOptimize(pub i64);

impl Optimize {
    /// The level as CPython numbers it.
    pub fn level(self) -> u8 {
        match self {
            Optimize::Zero => 0,
            Optimize::One => 1,
            Optimize::Two => 2,
        }
    }

    /// The level `level`: the one place the `0..=2` rule is checked.
    pub fn from_level(level: i64) -> Result<Optimize, InvalidOptimize> {
        match level {
            0 => Ok(Optimize::Zero),
            1 => Ok(Optimize::One),
            2 => Ok(Optimize::Two),
            _ => Err(InvalidOptimize(level)),
        }
    }

    /// The level of `count` `-O` flags: `-OOO` is `-OO`, as for `python`.
    pub fn from_flag_count(count: u8) -> Optimize {
        match count {
            0 => Optimize::Zero,
            1 => Optimize::One,
            _ => Optimize::Two,
        }
    }

    /// The PEP 488 tag in a `__pycache__` file name: empty, `.opt-1` or `.opt-2`.
    pub fn pyc_tag(self) -> &'static str {
        match self {
            Optimize::Zero => "",
            Optimize::One => ".opt-1",
            Optimize::Two => ".opt-2",
        }
    }
}

impl std::str::FromStr for Optimize {
    type Err = String;

    fn from_str(text: &str) -> Result<Optimize, String> {
        let level: i64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a number: optimize must be 0, 1 or 2"))?;
        Optimize::from_level(level).map_err(|err| err.to_string())
    }
}

/// Everything that decides the code bytes of a module besides its source, its `co_filename`
/// and the target interpreter.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeOptions {
    /// CPython's optimization level.
    pub optimize: Optimize,
    /// Drop docstrings while keeping asserts; always false until docstring stripping exists.
    pub strip_docstrings: bool,
}

impl CodeOptions {
    /// Code compiled at `optimize`, docstrings as the level leaves them.
    pub fn new(optimize: Optimize) -> CodeOptions {
        CodeOptions {
            optimize,
            strip_docstrings: false,
        }
    }

    /// The options as one byte: bits 0–1 the level, bit 2 docstring stripping. The same byte
    /// goes into cache keys and onto the worker wire (where, with no stripping, it is the
    /// plain level protocol 1 always carried).
    pub fn to_byte(self) -> u8 {
        self.optimize.level() | (u8::from(self.strip_docstrings) << 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_others_are_refused() {
        for level in 0..=2 {
            assert_eq!(
                i64::from(Optimize::from_level(level).unwrap().level()),
                level
            );
        }
        for level in [-1, 3, 255] {
            assert_eq!(
                Optimize::from_level(level).unwrap_err().to_string(),
                format!("optimize must be 0, 1 or 2, not {level}")
            );
        }
        assert_eq!(Optimize::from_flag_count(5), Optimize::Two);
        assert_eq!("1".parse::<Optimize>(), Ok(Optimize::One));
        assert!("x".parse::<Optimize>().is_err());
    }

    #[test]
    fn the_byte_is_the_level_without_stripping() {
        assert_eq!(CodeOptions::new(Optimize::Two).to_byte(), 2);
        let strip = CodeOptions {
            optimize: Optimize::One,
            strip_docstrings: true,
        };
        assert_eq!(strip.to_byte(), 0b101);
    }
}
