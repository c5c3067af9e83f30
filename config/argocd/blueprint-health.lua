-- Argo CD health check for stax.dev Blueprints
-- (github.com/stax-dev/blueprint-operator, config/argocd).
--
-- Argo CD runs custom checks without the Lua standard libraries (unless
-- useOpenLibs is set), so this uses only base functions.
local hs = {
  status = "Progressing",
  message = "Waiting for the operator to observe the latest spec",
}

-- A condition describes the spec only once the operator has observed that
-- spec's generation; until then it may be the verdict on an older spec.
local generation = obj.metadata.generation or 0
local st = obj.status
if st == nil or (st.observedGeneration or 0) < generation or st.conditions == nil then
  return hs
end

local ready, stalled
for _, c in ipairs(st.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  end
end
if ready == nil or (ready.observedGeneration or 0) < generation then
  return hs
end

-- Stalled means the Blueprint cannot progress without a change by a person
-- (a broken reference, a foreign object in the way); anything else that is
-- not Ready resolves by itself, such as a rollout or a Secret yet to appear.
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
elseif ready.reason == "Suspended" then
  -- spec.suspend, or asleep (spec.sleep): scaled to 0 on purpose.
  hs.status = "Suspended"
  hs.message = ready.message
else
  hs.message = ready.message
end
return hs
