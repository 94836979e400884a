// The Front Door profile and its endpoint, made first so every region's silos can be told the public URL
// (Mirror:PublicUrl goes into config.json's `dl`, so downloads come back through Front Door too). Premium: the only
// tier that reaches origins through Private Link, so the regional clusters have no public endpoint at all.
param profileName string
param endpointName string
param tags object = {}

resource profile 'Microsoft.Cdn/profiles@2025-04-15' = {
  name: profileName
  location: 'global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    // A cold download of a big crate may take a while before its first byte (the silo fetches it upstream first).
    originResponseTimeoutSeconds: 120
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2025-04-15' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

output profileName string = profile.name
output endpointName string = endpoint.name
output hostName string = endpoint.properties.hostName
