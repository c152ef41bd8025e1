pub mod chip;
pub mod komoju;
pub mod pakasir;
pub mod sendgrid;
pub mod smtp;
pub mod stripe;
pub mod telegram;
