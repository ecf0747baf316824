//! Spaces as the contexts of a kubeconfig: real clusters, kube-apiservers, KubeFlex control
//! planes, or orrery spaces reached by URL. The spaces come from configuration, so this
//! provider neither creates nor deletes them; a multi-space watch fans in one watch per space.

use crate::embedded::client_for;
use crate::{Fields, MultiEvent, SpaceError, SpaceProvider, fan_in};
use futures::StreamExt;
use futures::stream::BoxStream;
use kube::api::ApiResource;
use kube::config::Kubeconfig;
use std::collections::BTreeMap;

pub struct KubeconfigProvider {
    kubeconfig: Kubeconfig,
    /// Space name → context name.
    spaces: BTreeMap<String, String>,
    /// A client per space, made once.
    clients: BTreeMap<String, kube::Client>,
}

impl KubeconfigProvider {
    /// One space per context, named after the context.
    pub async fn from_contexts(kubeconfig: Kubeconfig) -> Result<Self, SpaceError> {
        let spaces = kubeconfig.contexts.iter().map(|c| (c.name.clone(), c.name.clone())).collect();
        Self::new(kubeconfig, spaces).await
    }

    /// Spaces named by the caller, each mapped to a context of `kubeconfig`.
    pub async fn new(kubeconfig: Kubeconfig, spaces: BTreeMap<String, String>) -> Result<Self, SpaceError> {
        let mut clients = BTreeMap::new();
        for (space, context) in &spaces {
            clients.insert(space.clone(), client_for(Self::only(&kubeconfig, context)?).await?);
        }
        Ok(Self { kubeconfig, spaces, clients })
    }

    /// The kubeconfig reduced to one context, made current.
    fn only(kc: &Kubeconfig, context: &str) -> Result<Kubeconfig, SpaceError> {
        let named = kc
            .contexts
            .iter()
            .find(|c| c.name == context)
            .ok_or_else(|| SpaceError::Kubeconfig(format!("no context {context:?}")))?;
        let inner =
            named.context.as_ref().ok_or_else(|| SpaceError::Kubeconfig(format!("context {context:?} is empty")))?;
        let mut out = Kubeconfig { current_context: Some(context.to_owned()), ..Default::default() };
        out.contexts = vec![named.clone()];
        out.clusters = kc.clusters.iter().filter(|c| c.name == inner.cluster).cloned().collect();
        out.auth_infos = kc.auth_infos.iter().filter(|a| Some(&a.name) == inner.user.as_ref()).cloned().collect();
        Ok(out)
    }
}

#[async_trait::async_trait]
impl SpaceProvider for KubeconfigProvider {
    async fn create(&self, name: &str, _annotations: &BTreeMap<String, String>) -> Result<(), SpaceError> {
        if self.spaces.contains_key(name) {
            Ok(())
        } else {
            Err(SpaceError::Unsupported("create spaces (add a context instead)"))
        }
    }

    async fn delete(&self, _name: &str) -> Result<(), SpaceError> {
        Err(SpaceError::Unsupported("delete spaces (remove the context instead)"))
    }

    async fn list(&self) -> Result<Vec<String>, SpaceError> {
        Ok(self.spaces.keys().cloned().collect())
    }

    async fn client(&self, name: &str) -> Result<kube::Client, SpaceError> {
        self.clients.get(name).cloned().ok_or_else(|| SpaceError::NotFound(name.to_owned()))
    }

    async fn kubeconfig(&self, name: &str) -> Result<Kubeconfig, SpaceError> {
        let context = self.spaces.get(name).ok_or_else(|| SpaceError::NotFound(name.to_owned()))?;
        Self::only(&self.kubeconfig, context)
    }

    fn watch_spaces(&self) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
        futures::stream::pending().boxed()
    }

    fn watch_all(&self, resource: ApiResource, fields: Fields) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
        fan_in(self.clients.iter().map(|(s, c)| (s.clone(), c.clone())).collect(), &resource, fields)
    }

    fn watch_in(
        &self,
        resource: ApiResource,
        spaces: &[String],
        fields: Fields,
    ) -> BoxStream<'static, Result<MultiEvent, SpaceError>> {
        let clients = spaces.iter().filter_map(|s| Some((s.clone(), self.clients.get(s)?.clone()))).collect();
        fan_in(clients, &resource, fields)
    }
}
