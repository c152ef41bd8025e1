pub mod biteship;
pub mod chip;
pub mod komoju;
pub mod pakasir;
pub mod push;
pub mod stripe;
pub mod telegram;
