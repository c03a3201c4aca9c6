//! The vector instruction set the hot loops run on, chosen once per process: the widest this
//! processor has (`is_x86_feature_detected!`), or the one `MOMENTUM_SIMD` names, for tests and
//! measurements. PBO's sweeps (`cscv.rs`), the simulation (`sim.rs`) and the rank tables
//! (`select.rs`) keep a copy compiled for each wider set beside the portable one (a
//! `#[target_feature]` function with the whole loop inlined into it). Every copy gives the
//! same bits: Rust never fuses a multiplication and an addition unless asked, and the sums
//! keep their order; so the choice changes the speed only.

use std::sync::OnceLock;

use crate::EngineError;

/// The instruction set the lanes are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// The target's baseline (SSE2 on x86_64): built and tested on every target.
    Portable,
    /// AVX2, x86_64 only.
    Avx2,
    /// AVX-512 (F), x86_64 only. The simulation and the rank tables run their AVX2 copy here:
    /// their lanes are pairs, and an AVX-512 copy ran no faster.
    Avx512,
}

impl Isa {
    /// Every instruction set, portable first.
    pub(crate) const ALL: [Self; 3] = [Self::Portable, Self::Avx2, Self::Avx512];

    /// Whether this processor runs `self`.
    pub(crate) fn available(self) -> bool {
        match self {
            Self::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => false,
        }
    }

    /// The one `MOMENTUM_SIMD` names, or the widest available: decided once per process.
    /// Otherwise the value and why it is refused.
    fn chosen() -> &'static Result<Self, (String, &'static str)> {
        static CHOSEN: OnceLock<Result<Isa, (String, &'static str)>> = OnceLock::new();
        CHOSEN.get_or_init(|| {
            let Ok(name) = std::env::var("MOMENTUM_SIMD") else {
                return Ok(Self::widest());
            };
            let isa = match name.as_str() {
                "" | "auto" => return Ok(Self::widest()),
                "portable" => Self::Portable,
                "avx2" => Self::Avx2,
                "avx512" => Self::Avx512,
                _ => return Err((name, "expected auto, portable, avx2 or avx512")),
            };
            if isa.available() {
                Ok(isa)
            } else {
                Err((name, "this processor does not have it"))
            }
        })
    }

    /// [`Isa::chosen`].
    ///
    /// # Panics
    /// When `MOMENTUM_SIMD` is refused ([`simd_instruction_set`] says so as an error): a
    /// measurement or a test that asked for a path must not silently run another.
    pub(crate) fn detected() -> Self {
        match Self::chosen() {
            Ok(isa) => *isa,
            Err((name, reason)) => panic!("invalid MOMENTUM_SIMD = {name}: {reason}"),
        }
    }

    /// The name `MOMENTUM_SIMD` gives it.
    fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    fn widest() -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|isa| isa.available())
            .unwrap_or(Self::Portable)
    }
}

/// The instruction set the grid's simulation and PBO's inner loop run on, by the name `MOMENTUM_SIMD` takes: the one
/// that variable names (`portable`, `avx2` or `avx512`), or the widest this processor has
/// (unset, empty or `auto`). Every one gives the same results, bit for bit.
///
/// # Errors
/// [`EngineError::InvalidParameter`] naming `MOMENTUM_SIMD` when it names no instruction set,
/// or one this processor does not have.
pub fn simd_instruction_set() -> crate::Result<&'static str> {
    match Isa::chosen() {
        Ok(isa) => Ok(isa.name()),
        Err((value, reason)) => Err(EngineError::InvalidParameter {
            name: "MOMENTUM_SIMD",
            value: value.clone(),
            reason,
        }),
    }
}
