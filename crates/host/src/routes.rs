//! Spin's HTTP routing: exact routes, and `/prefix/...` wildcards where the longest prefix
//! wins. Private routes are not reachable from outside; components reach them as
//! `http://<component>.spin.internal`.

use crate::manifest::{HttpTrigger, Route};

#[derive(Debug, Clone)]
pub struct Router {
    /// (pattern, component), most specific first.
    public: Vec<(Pattern, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(route: &str) -> Pattern {
        match route.strip_suffix("/...") {
            Some(prefix) => Pattern::Prefix(prefix.to_string()),
            None if route == "/..." => Pattern::Prefix(String::new()),
            None => Pattern::Exact(route.trim_end_matches('/').to_string()),
        }
    }

    fn matches(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        match self {
            Pattern::Exact(p) => path == p,
            Pattern::Prefix(p) => {
                path == p
                    || path
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }

    fn specificity(&self) -> (usize, bool) {
        match self {
            Pattern::Exact(p) => (p.len(), true),
            Pattern::Prefix(p) => (p.len(), false),
        }
    }
}

impl Router {
    pub fn new(triggers: &[HttpTrigger]) -> Router {
        let mut public: Vec<(Pattern, String)> = triggers
            .iter()
            .filter_map(|t| match &t.route {
                Route::Path(route) => Some((Pattern::parse(route), t.component.clone())),
                Route::Private { .. } => None,
            })
            .collect();
        public.sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.specificity()));
        Router { public }
    }

    /// The component serving a public path, if any.
    pub fn route(&self, path: &str) -> Option<&str> {
        self.public
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map(|(_, c)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(route: &str, component: &str) -> HttpTrigger {
        HttpTrigger {
            route: Route::Path(route.into()),
            component: component.into(),
        }
    }

    #[test]
    fn longest_prefix_and_exact_routes_win() {
        let router = Router::new(&[
            trigger("/...", "fallback"),
            trigger("/v1/...", "api"),
            trigger("/v1/health", "health"),
            HttpTrigger {
                route: Route::Private { private: true },
                component: "cell".into(),
            },
        ]);
        assert_eq!(router.route("/v1/messages/x"), Some("api"));
        assert_eq!(router.route("/v1"), Some("api"));
        assert_eq!(router.route("/v1/health"), Some("health"));
        assert_eq!(router.route("/v1x"), Some("fallback"));
        assert_eq!(router.route("/other"), Some("fallback"));
    }

    #[test]
    fn private_components_have_no_public_route() {
        let router = Router::new(&[HttpTrigger {
            route: Route::Private { private: true },
            component: "cell".into(),
        }]);
        assert_eq!(router.route("/dispatch"), None);
    }
}
