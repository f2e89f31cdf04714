//! VIP pools: blocks (CIDRs and ranges) and the input form.
use super::*;

// =============================================================================================
// VIP pools

/// One block of a CiliumLoadBalancerIPPool: `{"cidr": …}` or `{"start": …, "stop": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PoolBlock {
    Cidr(Cidr),
    Range(IpRange),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolBlockError {
    #[error("a block is either {{\"cidr\": …}} or {{\"start\": …, \"stop\": …}}; this one is neither")]
    Neither,
    #[error("a block is either {{\"cidr\": …}} or {{\"start\": …, \"stop\": …}}, not both")]
    Both,
    #[error("`{input}` is neither a CIDR (192.168.101.192/28) nor a range (192.168.101.240-192.168.101.250)")]
    Unrecognised { input: String },
    #[error(transparent)]
    Cidr(#[from] CidrError),
    #[error(transparent)]
    Range(#[from] IpRangeError),
}

impl ErrorCode for PoolBlockError {
    fn code(&self) -> &'static str {
        match self {
            Self::Cidr(e) => e.code(),
            Self::Range(e) => e.code(),
            _ => "invalid_block",
        }
    }
}

impl PoolBlock {
    /// Parses the text form: `192.168.101.192/28` or `192.168.101.240-192.168.101.250`.
    pub fn parse(input: &str) -> Result<Self, PoolBlockError> {
        let s = input.trim();
        if s.contains('/') {
            Ok(Self::Cidr(Cidr::parse(s)?))
        } else if s.contains('-') {
            Ok(Self::Range(IpRange::parse(s)?))
        } else if s.is_empty() {
            Err(PoolBlockError::Neither)
        } else {
            Err(PoolBlockError::Unrecognised { input: s.to_owned() })
        }
    }

    pub fn family(&self) -> IpFamily {
        match self {
            Self::Cidr(c) => c.family(),
            Self::Range(r) => r.family(),
        }
    }

    pub fn first_u128(&self) -> u128 {
        match self {
            Self::Cidr(c) => c.first_u128(),
            Self::Range(r) => r.first_u128(),
        }
    }

    pub fn last_u128(&self) -> u128 {
        match self {
            Self::Cidr(c) => c.last_u128(),
            Self::Range(r) => r.last_u128(),
        }
    }

    pub fn first(&self) -> IpAddr {
        match self {
            Self::Cidr(c) => c.network(),
            Self::Range(r) => r.start(),
        }
    }

    pub fn last(&self) -> IpAddr {
        match self {
            Self::Cidr(c) => c.last(),
            Self::Range(r) => r.stop(),
        }
    }

    pub fn size(&self) -> u128 {
        match self {
            Self::Cidr(c) => c.size(),
            Self::Range(r) => r.size(),
        }
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        match self {
            Self::Cidr(c) => c.contains(address),
            Self::Range(r) => r.contains(address),
        }
    }

    pub fn span<O>(&self, owner: O) -> Span<O> {
        Span { family: self.family(), start: self.first_u128(), end: self.last_u128(), owner }
    }

    pub fn as_range(&self) -> IpRange {
        match self {
            Self::Cidr(c) => IpRange::from(*c),
            Self::Range(r) => *r,
        }
    }
}

impl FromStr for PoolBlock {
    type Err = PoolBlockError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for PoolBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cidr(c) => c.fmt(f),
            Self::Range(r) => r.fmt(f),
        }
    }
}

impl Serialize for PoolBlock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Cidr(c) => {
                let mut m = s.serialize_struct("PoolBlock", 1)?;
                m.serialize_field("cidr", c)?;
                m.end()
            }
            Self::Range(r) => {
                let mut m = s.serialize_struct("PoolBlock", 2)?;
                m.serialize_field("start", &r.start())?;
                m.serialize_field("stop", &r.stop())?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for PoolBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let input = PoolBlockInput::deserialize(d)?;
        input.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolBlockInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
}

impl PoolBlockInput {
    pub fn parse(&self) -> Result<PoolBlock, PoolBlockError> {
        match (&self.cidr, &self.start, &self.stop) {
            (Some(c), None, None) => Ok(PoolBlock::Cidr(Cidr::parse(c)?)),
            (None, Some(a), Some(b)) => Ok(PoolBlock::Range(IpRange::from_parts(a, b)?)),
            (None, None, None) => Err(PoolBlockError::Neither),
            (None, Some(_), None) | (None, None, Some(_)) => Err(PoolBlockError::Range(IpRangeError::MissingDash {
                input: "a range needs both start and stop".to_owned(),
            })),
            _ => Err(PoolBlockError::Both),
        }
    }
}

impl From<PoolBlock> for PoolBlockInput {
    fn from(b: PoolBlock) -> Self {
        match b {
            PoolBlock::Cidr(c) => Self { cidr: Some(c.to_string()), ..Self::default() },
            PoolBlock::Range(r) => {
                Self { start: Some(r.start().to_string()), stop: Some(r.stop().to_string()), cidr: None }
            }
        }
    }
}

/// A pool of VIPs for LoadBalancer Services (a CiliumLoadBalancerIPPool).
/// Serialised with its computed `size` (API.md); the server adds `allocated`/`reserved`/`free`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "VipPoolInput")]
pub struct VipPool {
    pub id: Option<i64>,
    pub environment: EnvironmentName,
    pub name: K8sName,
    pub blocks: Vec<PoolBlock>,
}

impl VipPool {
    pub fn parse(input: VipPoolInput) -> Result<Self, FieldErrors> {
        Self::try_from(input)
    }

    /// Number of addresses in all blocks (saturating).
    pub fn size(&self) -> u128 {
        self.blocks.iter().fold(0u128, |n, b| n.saturating_add(b.size()))
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(address))
    }
}

impl Serialize for VipPool {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("VipPool", 5)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("environment", &self.environment)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("blocks", &self.blocks)?;
        m.serialize_field("size", &self.size())?;
        m.end()
    }
}

/// A pool as sent to the API. The read-only fields of a pool read back from the API
/// (`size`, `allocated`, `reserved`, `free`) are accepted and ignored, so GET → PUT works.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VipPoolInput {
    pub id: Option<i64>,
    pub environment: String,
    pub name: String,
    pub blocks: Vec<PoolBlockInput>,
    #[serde(skip_serializing)]
    pub size: Option<IgnoredAny>,
    #[serde(skip_serializing)]
    pub allocated: Option<IgnoredAny>,
    #[serde(skip_serializing)]
    pub reserved: Option<IgnoredAny>,
    #[serde(skip_serializing)]
    pub free: Option<IgnoredAny>,
}

impl From<&VipPool> for VipPoolInput {
    fn from(p: &VipPool) -> Self {
        Self {
            id: p.id,
            environment: p.environment.to_string(),
            name: p.name.to_string(),
            blocks: p.blocks.iter().copied().map(PoolBlockInput::from).collect(),
            ..Self::default()
        }
    }
}

impl TryFrom<VipPoolInput> for VipPool {
    type Error = FieldErrors;

    fn try_from(input: VipPoolInput) -> Result<Self, FieldErrors> {
        let mut c = Collector::default();
        let environment = c.take("environment", EnvironmentName::parse(&input.environment));
        let name = c.take("name", K8sName::parse(&input.name));
        if input.blocks.is_empty() {
            c.push("blocks", "required", "a pool needs at least one block, like {\"cidr\": \"192.168.101.192/28\"}");
        }
        let mut blocks = Vec::with_capacity(input.blocks.len());
        let mut spans = Vec::with_capacity(input.blocks.len());
        for (i, b) in input.blocks.iter().enumerate() {
            if let Some(block) = c.take(format!("blocks[{i}]"), b.parse()) {
                spans.push(block.span(i));
                blocks.push(block);
            }
        }
        for (a, b) in overlapping_pairs(&spans) {
            let (first, second) = (spans[a].owner, spans[b].owner);
            c.push(
                format!("blocks[{second}]"),
                "range_overlap",
                format!(
                    "blocks[{second}] ({}) overlaps blocks[{first}] ({}); each address belongs to one block",
                    blocks[b], blocks[a]
                ),
            );
        }
        if !c.is_empty() {
            return Err(c.finish());
        }
        match (environment, name) {
            (Some(environment), Some(name)) => Ok(VipPool { id: input.id, environment, name, blocks }),
            _ => Err(c.finish()),
        }
    }
}
