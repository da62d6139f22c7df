//! Virtual GPIO pins: outputs that record their edges, inputs whose level a test sets.

use embedded_hal::digital::{ErrorType, InputPin, OutputPin, StatefulOutputPin};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct PinState {
    high: bool,
    /// Levels the pin was driven to, in order, each only when it changed.
    edges: Vec<bool>,
    /// Writes, changed or not.
    writes: u64,
}

/// A virtual output pin. Clones share one pin: give one to the driver, keep one to look.
#[derive(Debug, Clone, Default)]
pub struct SimOutputPin {
    state: Arc<Mutex<PinState>>,
}

impl SimOutputPin {
    /// A pin, low.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, PinState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The level now.
    pub fn is_set_high_now(&self) -> bool {
        self.state().high
    }

    /// The edges so far (the level after each change).
    pub fn edges(&self) -> Vec<bool> {
        self.state().edges.clone()
    }

    /// How many times the pin was written.
    pub fn writes(&self) -> u64 {
        self.state().writes
    }

    fn drive(&self, high: bool) {
        let mut s = self.state();
        s.writes += 1;
        if s.high != high {
            s.high = high;
            s.edges.push(high);
        }
    }
}

impl ErrorType for SimOutputPin {
    type Error = Infallible;
}

impl OutputPin for SimOutputPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.drive(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.drive(true);
        Ok(())
    }
}

impl StatefulOutputPin for SimOutputPin {
    fn is_set_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.state().high)
    }
    fn is_set_low(&mut self) -> Result<bool, Infallible> {
        Ok(!self.state().high)
    }
}

/// A virtual input pin whose level the test (or the demo) sets.
#[derive(Debug, Clone, Default)]
pub struct SimInputPin {
    high: Arc<Mutex<bool>>,
}

impl SimInputPin {
    /// A pin reading low.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the level it reads.
    pub fn set(&self, high: bool) {
        *self.high.lock().unwrap_or_else(|e| e.into_inner()) = high;
    }
}

impl ErrorType for SimInputPin {
    type Error = Infallible;
}

impl InputPin for SimInputPin {
    fn is_high(&mut self) -> Result<bool, Infallible> {
        Ok(*self.high.lock().unwrap_or_else(|e| e.into_inner()))
    }
    fn is_low(&mut self) -> Result<bool, Infallible> {
        self.is_high().map(|h| !h)
    }
}
