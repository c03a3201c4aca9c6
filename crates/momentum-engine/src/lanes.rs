//! Two `f64` lanes for the walks' running sums (two portfolio sizes at a time) and PBO's inner
//! loop (two Sharpe ratios at a time): SSE2 on x86_64, plain arrays elsewhere. Every operation is the IEEE operation lane by lane, so both give the same
//! bits; with the intrinsics each is one instruction, where LLVM shuffled and spilled the
//! portable version.

#[cfg(target_arch = "x86_64")]
#[expect(
    unsafe_code,
    reason = "SSE2 intrinsics are `unsafe` to call only because they are `#[target_feature]` \
              functions; SSE2 is part of the x86_64 baseline, so they are always available"
)]
mod imp {
    use std::arch::x86_64::{
        __m128d, _mm_add_pd, _mm_and_pd, _mm_cmpgt_pd, _mm_cvtsd_f64, _mm_div_pd, _mm_loadu_pd,
        _mm_max_pd, _mm_min_pd, _mm_mul_pd, _mm_set_pd, _mm_set1_pd, _mm_setzero_pd, _mm_sqrt_pd,
        _mm_sub_pd, _mm_unpackhi_pd,
    };

    /// Two `f64` lanes.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct F64x2(__m128d);

    impl F64x2 {
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
        #[inline(always)]
        pub(crate) fn add(self, b: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_add_pd(self.0, b.0) })
        }
        #[inline(always)]
        pub(crate) fn sub(self, b: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_sub_pd(self.0, b.0) })
        }
        /// `if a < b { a } else { b }` per lane (MINPD returns the second operand unless the
        /// first is smaller).
        #[inline(always)]
        pub(crate) fn min(self, b: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_min_pd(self.0, b.0) })
        }
        /// `if a > b { a } else { b }` per lane (MAXPD returns the second operand unless the
        /// first is greater).
        #[inline(always)]
        pub(crate) fn max(self, b: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_max_pd(self.0, b.0) })
        }
        #[inline(always)]
        pub(crate) fn mul(self, b: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_mul_pd(self.0, b.0) })
        }
        #[inline(always)]
        pub(crate) fn div(self, b: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_div_pd(self.0, b.0) })
        }
        /// The correctly rounded square root per lane.
        #[inline(always)]
        pub(crate) fn sqrt(self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_sqrt_pd(self.0) })
        }
        /// Each lane of `self` where the same lane of `test` is greater than 0, else `0.0`.
        #[inline(always)]
        pub(crate) fn where_positive(self, test: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_and_pd(self.0, _mm_cmpgt_pd(test.0, _mm_setzero_pd())) })
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
        /// The correctly rounded square root per lane.
        #[inline(always)]
        pub(crate) fn sqrt(self) -> Self {
            Self([self.0[0].sqrt(), self.0[1].sqrt()])
        }
        /// Each lane of `self` where the same lane of `test` is greater than 0, else `0.0`.
        #[inline(always)]
        pub(crate) fn where_positive(self, test: Self) -> Self {
            self.map(test, |x, t| if t > 0.0 { x } else { 0.0 })
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

pub(crate) use imp::F64x2;

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
        assert_eq!(F64x2::load(&[2.0, 9.0]).sqrt().hi(), 3.0);
        let kept = F64x2::load(&[4.0, 5.0]).where_positive(F64x2::load(&[1.0, f64::NAN]));
        assert_eq!((kept.lo(), kept.hi().to_bits()), (4.0, 0));
    }
}
