//! Two `f64` lanes for the simulation (two portfolio sizes at a time, in the walks and the
//! settlements) and the rank tables' candidate bit sets: SSE2 on x86_64 (VEX-encoded inside the
//! AVX2 copies of the simulation and the rank tables), plain arrays elsewhere. Every operation
//! is the IEEE operation lane by lane, so both give the same bits; with the intrinsics each is
//! one instruction, where LLVM shuffled and spilled the portable version.

#[cfg(target_arch = "x86_64")]
#[expect(
    unsafe_code,
    reason = "SSE2 intrinsics are `unsafe` to call only because they are `#[target_feature]` \
              functions; SSE2 is part of the x86_64 baseline, so they are always available"
)]
mod imp {
    use std::arch::x86_64::{
        __m128d, _mm_add_pd, _mm_and_pd, _mm_andnot_pd, _mm_cmpgt_pd, _mm_cmple_pd, _mm_cmplt_pd,
        _mm_cvtsd_f64, _mm_div_pd, _mm_loadu_pd, _mm_max_pd, _mm_min_pd, _mm_movemask_pd,
        _mm_mul_pd, _mm_or_pd, _mm_set_pd, _mm_set1_pd, _mm_sub_pd, _mm_unpackhi_pd,
    };

    /// A comparison's result per lane (all bits set where true).
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Mask2(__m128d);

    /// Operations that are one SSE2 instruction on two operands: `name(self, b)` is
    /// `intrinsic(self, b)`, with the result wrapped as `$out`.
    macro_rules! lanewise {
        ($out:ident: $($(#[$doc:meta])* $name:ident = $intrinsic:ident;)*) => {$(
            $(#[$doc])*
            #[inline(always)]
            pub(crate) fn $name(self, b: Self) -> $out {
                // SAFETY: SSE2 is always available on x86_64 (see the module).
                $out(unsafe { $intrinsic(self.0, b.0) })
            }
        )*};
    }

    impl Mask2 {
        lanewise! { Mask2: and = _mm_and_pd; }
        /// Bit `w` set where lane `w` is true.
        #[inline(always)]
        pub(crate) fn bits(self) -> u32 {
            // SAFETY: SSE2 is always available on x86_64 (see the module).
            let bits = unsafe { _mm_movemask_pd(self.0) };
            bits.cast_unsigned()
        }
    }

    /// Two `f64` lanes.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct F64x2(__m128d);

    impl F64x2 {
        lanewise! { F64x2:
            add = _mm_add_pd;
            sub = _mm_sub_pd;
            mul = _mm_mul_pd;
            div = _mm_div_pd;
            /// `if a < b { a } else { b }` per lane (MINPD returns the second operand unless
            /// the first is smaller).
            min = _mm_min_pd;
            /// `if a > b { a } else { b }` per lane (MAXPD returns the second operand unless
            /// the first is greater).
            max = _mm_max_pd;
        }
        lanewise! { Mask2:
            lt = _mm_cmplt_pd;
            le = _mm_cmple_pd;
            gt = _mm_cmpgt_pd;
        }
        #[inline(always)]
        pub(crate) fn splat(x: f64) -> Self {
            // SAFETY: SSE2 is always available on x86_64 (see the module).
            Self(unsafe { _mm_set1_pd(x) })
        }
        /// `[lo, hi]`.
        #[inline(always)]
        pub(crate) fn pair(lo: f64, hi: f64) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_set_pd(hi, lo) })
        }
        /// The first two values of `s`.
        #[inline(always)]
        pub(crate) fn load(s: &[f64]) -> Self {
            let s: &[f64; 2] = s.first_chunk().expect("two values to load");
            // SAFETY: SSE2 as above; `s` is two readable f64 (unaligned loads are allowed).
            Self(unsafe { _mm_loadu_pd(s.as_ptr()) })
        }
        /// `|x|` per lane.
        #[inline(always)]
        pub(crate) fn abs(self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_andnot_pd(_mm_set1_pd(-0.0), self.0) })
        }
        /// Each lane where `mask` is true, else `+0.0`.
        #[inline(always)]
        pub(crate) fn keep(self, mask: Mask2) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_and_pd(self.0, mask.0) })
        }
        /// Each lane of `self` where `mask` is true, else the lane of `other`.
        #[inline(always)]
        pub(crate) fn select(self, mask: Mask2, other: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_or_pd(_mm_and_pd(mask.0, self.0), _mm_andnot_pd(mask.0, other.0)) })
        }
        #[inline(always)]
        pub(crate) fn lo(self) -> f64 {
            // SAFETY: as above.
            unsafe { _mm_cvtsd_f64(self.0) }
        }
        #[inline(always)]
        pub(crate) fn hi(self) -> f64 {
            // SAFETY: as above.
            unsafe { _mm_cvtsd_f64(_mm_unpackhi_pd(self.0, self.0)) }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    /// Two `f64` lanes.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct F64x2([f64; 2]);

    /// A comparison's result per lane.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Mask2([bool; 2]);

    impl Mask2 {
        #[inline(always)]
        pub(crate) fn and(self, b: Self) -> Self {
            Self([self.0[0] & b.0[0], self.0[1] & b.0[1]])
        }
        /// Bit `w` set where lane `w` is true.
        #[inline(always)]
        pub(crate) fn bits(self) -> u32 {
            u32::from(self.0[0]) | (u32::from(self.0[1]) << 1)
        }
    }

    impl F64x2 {
        #[inline(always)]
        fn map(self, b: Self, f: impl Fn(f64, f64) -> f64) -> Self {
            Self([f(self.0[0], b.0[0]), f(self.0[1], b.0[1])])
        }
        #[inline(always)]
        pub(crate) fn splat(x: f64) -> Self {
            Self([x, x])
        }
        /// `[lo, hi]`.
        #[inline(always)]
        pub(crate) fn pair(lo: f64, hi: f64) -> Self {
            Self([lo, hi])
        }
        /// The first two values of `s`.
        #[inline(always)]
        pub(crate) fn load(s: &[f64]) -> Self {
            Self([s[0], s[1]])
        }
        #[inline(always)]
        pub(crate) fn add(self, b: Self) -> Self {
            self.map(b, |x, y| x + y)
        }
        #[inline(always)]
        pub(crate) fn sub(self, b: Self) -> Self {
            self.map(b, |x, y| x - y)
        }
        /// `if a < b { a } else { b }` per lane.
        #[inline(always)]
        pub(crate) fn min(self, b: Self) -> Self {
            self.map(b, |x, y| if x < y { x } else { y })
        }
        /// `if a > b { a } else { b }` per lane.
        #[inline(always)]
        pub(crate) fn max(self, b: Self) -> Self {
            self.map(b, |x, y| if x > y { x } else { y })
        }
        #[inline(always)]
        pub(crate) fn mul(self, b: Self) -> Self {
            self.map(b, |x, y| x * y)
        }
        #[inline(always)]
        pub(crate) fn div(self, b: Self) -> Self {
            self.map(b, |x, y| x / y)
        }
        /// `|x|` per lane.
        #[inline(always)]
        pub(crate) fn abs(self) -> Self {
            Self([self.0[0].abs(), self.0[1].abs()])
        }
        #[inline(always)]
        fn compare(self, b: Self, f: impl Fn(f64, f64) -> bool) -> Mask2 {
            Mask2([f(self.0[0], b.0[0]), f(self.0[1], b.0[1])])
        }
        #[inline(always)]
        pub(crate) fn lt(self, b: Self) -> Mask2 {
            self.compare(b, |x, y| x < y)
        }
        #[inline(always)]
        pub(crate) fn le(self, b: Self) -> Mask2 {
            self.compare(b, |x, y| x <= y)
        }
        #[inline(always)]
        pub(crate) fn gt(self, b: Self) -> Mask2 {
            self.compare(b, |x, y| x > y)
        }
        /// Each lane where `mask` is true, else `+0.0`.
        #[inline(always)]
        pub(crate) fn keep(self, mask: Mask2) -> Self {
            Self([
                if mask.0[0] { self.0[0] } else { 0.0 },
                if mask.0[1] { self.0[1] } else { 0.0 },
            ])
        }
        /// Each lane of `self` where `mask` is true, else the lane of `other`.
        #[inline(always)]
        pub(crate) fn select(self, mask: Mask2, other: Self) -> Self {
            Self([
                if mask.0[0] { self.0[0] } else { other.0[0] },
                if mask.0[1] { self.0[1] } else { other.0[1] },
            ])
        }
        #[inline(always)]
        pub(crate) fn lo(self) -> f64 {
            self.0[0]
        }
        #[inline(always)]
        pub(crate) fn hi(self) -> f64 {
            self.0[1]
        }
    }
}

pub(crate) use imp::{F64x2, Mask2};

impl F64x2 {
    /// Lane `w` (0 or 1).
    #[inline(always)]
    pub(crate) fn lane(self, w: usize) -> f64 {
        if w == 0 { self.lo() } else { self.hi() }
    }

    /// `self` with lane `w` (0 or 1) set to `x`.
    #[inline(always)]
    pub(crate) fn with_lane(self, w: usize, x: f64) -> Self {
        if w == 0 {
            Self::pair(x, self.hi())
        } else {
            Self::pair(self.lo(), x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::F64x2;

    #[test]
    fn lanes_are_the_scalar_operations() {
        let a = F64x2::load(&[1.5, -0.0]);
        let b = F64x2::load(&[3.0, 0.0]);
        assert_eq!(a.add(b).lo(), 4.5);
        assert_eq!(a.sub(b).hi().to_bits(), (-0.0f64 - 0.0).to_bits());
        // min keeps the second operand on equality, as `if a < b { a } else { b }`.
        assert_eq!(a.min(b).hi().to_bits(), 0.0f64.to_bits());
        assert_eq!(F64x2::load(&[-1.0, 2.0]).min(F64x2::splat(0.0)).lo(), -1.0);
        assert_eq!(F64x2::load(&[-1.0, 2.0]).max(F64x2::splat(0.0)).hi(), 2.0);
        let zeros = F64x2::load(&[0.0, -0.0]).max(F64x2::splat(0.0));
        assert_eq!(zeros.hi().to_bits(), 0);
        assert_eq!(a.mul(b).lo(), 4.5);
        assert_eq!(a.div(b).lo(), 0.5);
        assert_eq!(F64x2::splat(2.5).hi(), 2.5);
        let p = F64x2::pair(1.0, 2.0);
        assert_eq!((p.lo(), p.hi()), (1.0, 2.0));
    }

    #[test]
    fn masks_are_the_scalar_comparisons() {
        let zero = F64x2::splat(0.0);
        let test = F64x2::load(&[1.0, f64::NAN]);
        // A comparison with NaN is false, as in scalar code.
        let kept = F64x2::load(&[4.0, 5.0]).keep(test.gt(zero));
        assert_eq!((kept.lo(), kept.hi().to_bits()), (4.0, 0));
        assert_eq!(test.gt(zero).bits(), 0b01);
        assert_eq!(F64x2::load(&[1.0, 2.0]).lt(F64x2::splat(2.0)).bits(), 0b01);
        assert_eq!(F64x2::load(&[1.0, 2.0]).le(F64x2::splat(2.0)).bits(), 0b11);
        // -0.0 and 0.0 are equal.
        assert_eq!(F64x2::load(&[-0.0, 0.0]).le(zero).bits(), 0b11);
        let both = zero.le(zero);
        assert_eq!(both.and(test.gt(zero)).bits(), 0b01);
        let chosen = F64x2::pair(1.0, 2.0).select(test.gt(zero), F64x2::pair(7.0, 8.0));
        assert_eq!((chosen.lo(), chosen.hi()), (1.0, 8.0));
        let abs = F64x2::load(&[-0.0, -2.5]).abs();
        assert_eq!((abs.lo().to_bits(), abs.hi()), (0.0f64.to_bits(), 2.5));
        let p = F64x2::pair(1.0, 2.0).with_lane(1, 3.0).with_lane(0, 4.0);
        assert_eq!((p.lane(0), p.lane(1)), (4.0, 3.0));
    }
}
