pub struct NodeConfig;
