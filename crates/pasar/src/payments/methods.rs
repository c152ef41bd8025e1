//! Which provider serves a way to pay. Buyers choose a method (`qris`, `bni_va`, `card`,
//! `konbini`, `hosted`, `sandbox`); the first configured provider that offers it in the
//! payment's currency serves it, unless configuration names one (`PASAR_PAYMENT_METHODS`, such
//! as `konbini=komoju,card=stripe`).

use std::collections::HashMap;
use std::sync::Arc;

use super::gateway::Gateway;
use crate::money::Currency;

/// The providers in order of preference, and the methods configuration pins to one of them.
#[derive(Clone, Default)]
pub struct MethodRoutes {
    providers: Vec<Arc<dyn Gateway>>,
    pinned: HashMap<String, String>,
}

impl MethodRoutes {
    /// `pinned` is `method=provider` pairs separated by commas; a pair naming a provider that
    /// is not configured, or that does not offer the method, is a configuration error.
    pub fn new(providers: Vec<Arc<dyn Gateway>>, pinned: &str) -> anyhow::Result<Self> {
        let mut routes = Self { providers, pinned: HashMap::new() };
        for pair in pinned.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (method, provider) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("PASAR_PAYMENT_METHODS: {pair:?} is not method=provider"))?;
            let (method, provider) = (method.trim(), provider.trim());
            let offered = routes
                .providers
                .iter()
                .any(|p| p.name() == provider && p.offers().iter().any(|o| o.method == method));
            anyhow::ensure!(
                offered,
                "PASAR_PAYMENT_METHODS: {provider} is not configured or does not offer {method}"
            );
            routes.pinned.insert(method.to_owned(), provider.to_owned());
        }
        Ok(routes)
    }

    /// The providers in order of preference.
    pub fn providers(&self) -> &[Arc<dyn Gateway>] {
        &self.providers
    }

    /// The provider serving `method` in `currency`, if any does.
    pub fn provider_for(&self, method: &str, currency: Currency) -> Option<&Arc<dyn Gateway>> {
        let offers = |gateway: &&Arc<dyn Gateway>| {
            gateway
                .offers()
                .iter()
                .any(|o| o.method == method && (o.currencies.is_empty() || o.currencies.contains(&currency)))
        };
        match self.pinned.get(method) {
            Some(pinned) => self.providers.iter().filter(|g| g.name() == pinned).find(offers),
            None => self.providers.iter().find(offers),
        }
    }

    /// Every method on offer in `currency`, once each, with its provider.
    pub fn on_offer(&self, currency: Currency) -> Vec<(&'static str, &Arc<dyn Gateway>)> {
        let mut seen = Vec::new();
        for gateway in &self.providers {
            for offer in gateway.offers() {
                if seen.iter().any(|(m, _)| *m == offer.method) {
                    continue;
                }
                if let Some(provider) = self.provider_for(offer.method, currency) {
                    seen.push((offer.method, provider));
                }
            }
        }
        seen
    }
}
