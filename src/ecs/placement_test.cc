#include "ecs/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace berth::ecs {
namespace {

std::string Arn(const std::string& id) {
  return "arn:aws:ecs:us-east-1:000000000000:container-instance/c/" + id;
}

// The facts of a candidate, to change before placing (candidates share theirs: this copies).
InstanceFacts& Facts(Candidate& c) {
  auto own = std::make_shared<InstanceFacts>(*c.facts);
  c.facts = own;
  return *own;
}

Candidate Instance(const std::string& id, int64_t cpu = 4096, int64_t memory = 8192,
                   std::string az = "us-east-1a") {
  Candidate c;
  auto facts = std::make_shared<InstanceFacts>();
  facts->container_instance_arn = Arn(id);
  facts->ec2_instance_id = id;
  facts->agent_connected = true;
  facts->agent_version = "1.19.0";
  facts->attributes["ecs.availability-zone"] = std::move(az);
  c.facts = facts;
  c.remaining_cpu = cpu;
  c.remaining_memory = memory;
  c.used_ports = {{22, false}, {2375, false}, {2376, false}, {51678, false}, {51679, false}};
  return c;
}

TaskNeeds Needs(int64_t cpu = 256, int64_t memory = 512) {
  TaskNeeds n;
  n.cpu = cpu;
  n.memory = memory;
  n.group = "family:web";
  return n;
}

// A deterministic `random`: returns `values` in turn (then 0s) and counts its calls.
struct Sequence {
  std::vector<uint64_t> values;
  size_t calls = 0;
  std::function<uint64_t()> Fn() {
    return [this] { return calls < values.size() ? values[calls++] : (++calls, 0); };
  }
};

PlacementResult MustPlace(std::vector<Candidate>& candidates, const TaskNeeds& needs, int count,
                          const std::vector<PlacementConstraint>& constraints,
                          const std::vector<PlacementStrategy>& strategies,
                          const std::function<uint64_t()>& random) {
  auto r = Place(candidates, needs, count, constraints, strategies, random);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : PlacementResult{};
}

using Chosen = std::vector<size_t>;
using Failures = std::vector<PlacementFailure>;

TEST(Placement, NoStrategyIsARandomChoiceAmongInstancesThatFit) {
  std::vector<Candidate> c = {Instance("a"), Instance("b", 128), Instance("c"), Instance("d")};
  Sequence random{{2, 4, 7}};  // tied {a, c, d}: 2 % 3 -> d, 4 % 3 -> c, 7 % 3 -> c
  auto r = MustPlace(c, Needs(), 3, {}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{3, 2, 2}));
  EXPECT_EQ(random.calls, 3u);
  EXPECT_TRUE(r.failures.empty());
}

TEST(Placement, RandomStrategyIsUniformAndIgnoresLaterStrategies) {
  std::vector<Candidate> c = {Instance("a", 4096, 8192), Instance("b", 4096, 1024)};
  Sequence random{{0, 0}};
  // binpack memory alone would take b; after random it decides nothing.
  auto r = MustPlace(c, Needs(), 2, {}, {{"random", ""}, {"binpack", "memory"}}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 0}));
  EXPECT_EQ(random.calls, 2u);
}

TEST(Placement, BinpackMemoryTakesTheLeastRemainingThatStillFits) {
  std::vector<Candidate> c = {Instance("a", 4096, 1024), Instance("b", 4096, 512),
                              Instance("c", 4096, 256)};
  Sequence random;
  auto r = MustPlace(c, Needs(256, 300), 3, {}, {{"binpack", "memory"}}, random.Fn());
  // b (512) first; then b has 212 left and a (1024) is the least that fits, twice.
  EXPECT_EQ(r.chosen, (Chosen{1, 0, 0}));
  EXPECT_EQ(random.calls, 0u);  // no ties, no random draw
  EXPECT_EQ(c[1].remaining_memory, 212);
  EXPECT_EQ(c[0].remaining_memory, 424);
}

TEST(Placement, BinpackCpu) {
  std::vector<Candidate> c = {Instance("a", 2048), Instance("b", 1024), Instance("c", 512)};
  Sequence random;
  auto r = MustPlace(c, Needs(512, 16), 4, {}, {{"binpack", "cpu"}}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{2, 1, 1, 0}));
  EXPECT_EQ(c[0].remaining_cpu, 1536);
}

TEST(Placement, SpreadInstanceIdCountsTheGroupsTasksAlreadyThereAndPlacedNow) {
  std::vector<Candidate> c = {Instance("a"), Instance("b"), Instance("c")};
  Facts(c[0]).task_groups = {{"family:web", 2}};
  Facts(c[2]).task_groups = {{"family:web", 1}, {"other", 3}};
  Sequence random;  // 0: the first of the tied
  auto r = MustPlace(c, Needs(), 4, {}, {{"spread", "instanceId"}}, random.Fn());
  // counts a2 b0 c1 -> b; a2 b1 c1 -> b (tie, first); a2 b2 c1 -> c; all 2 -> a.
  EXPECT_EQ(r.chosen, (Chosen{1, 1, 2, 0}));
  std::vector<Candidate> again = {Instance("a"), Instance("b")};
  Facts(again[0]).task_groups = {{"family:web", 1}};
  r = MustPlace(again, Needs(), 1, {}, {{"spread", "host"}}, random.Fn());  // host = instanceId
  EXPECT_EQ(r.chosen, (Chosen{1}));
}

TEST(Placement, SpreadByZoneThenBinpackWithinTheZone) {
  std::vector<Candidate> c = {Instance("a", 4096, 1000, "az1"), Instance("b", 4096, 500, "az1"),
                              Instance("c", 4096, 2000, "az2"), Instance("d", 4096, 800, "az2")};
  Sequence random;
  auto r = MustPlace(c, Needs(1, 100), 4, {},
                     {{"spread", "attribute:ecs.availability-zone"}, {"binpack", "memory"}},
                     random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{1, 3, 1, 3}));
  EXPECT_EQ(random.calls, 0u);
}

TEST(Placement, SpreadByAttributeCountsTasksOnEveryInstanceOfTheValue) {
  std::vector<Candidate> c = {Instance("a", 4096, 8192, "az1"), Instance("b", 4096, 8192, "az1"),
                              Instance("c", 4096, 8192, "az2"), Instance("x")};
  Facts(c[3]).attributes.erase("ecs.availability-zone");   // its own "no value" zone
  Facts(c[0]).task_groups = {{"family:web", 1}};  // az1 has one already
  Facts(c[2]).task_groups = {{"family:web", 2}};  // az2 has two
  Facts(c[3]).task_groups = {{"family:web", 1}};
  Sequence random;
  auto r =
      MustPlace(c, Needs(), 3, {}, {{"spread", "attribute:ecs.availability-zone"}}, random.Fn());
  // az1 1, az2 2, none 1 -> tie a,b,x: a; az1 2 -> x; az1 2, none 2 -> a (first of a, b, x).
  EXPECT_EQ(r.chosen, (Chosen{0, 3, 0}));
}

TEST(Placement, DistinctInstanceCountsExistingAndNewTasks) {
  std::vector<Candidate> c = {Instance("a"), Instance("b"), Instance("c")};
  Facts(c[0]).task_groups = {{"family:web", 1}};
  Facts(c[1]).task_groups = {{"family:other", 1}};
  Sequence random;
  auto r = MustPlace(c, Needs(), 3, {{"distinctInstance", ""}}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{1, 2}));
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), std::string(kReasonDistinctInstance)},
                                  {Arn("b"), std::string(kReasonDistinctInstance)},
                                  {Arn("c"), std::string(kReasonDistinctInstance)}}));
  EXPECT_EQ(r.failures[0].reason, "DistinctInstance placement constraint unsatisfied.");
}

TEST(Placement, CpuAndMemoryAreAccountedAcrossTheTasksOfOneCall) {
  std::vector<Candidate> c = {Instance("a", 1024, 8192)};
  Sequence random;
  auto r = MustPlace(c, Needs(512, 16), 3, {}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 0}));
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), "RESOURCE:CPU"}}));
  EXPECT_EQ(c[0].remaining_cpu, 0);

  std::vector<Candidate> m = {Instance("a", 4096, 1000)};
  r = MustPlace(m, Needs(0, 400), 3, {}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 0}));
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), "RESOURCE:MEMORY"}}));
  EXPECT_EQ(m[0].remaining_memory, 200);
}

TEST(Placement, HostPortsAreAccountedAcrossTheTasksOfOneCall) {
  std::vector<Candidate> c = {Instance("a"), Instance("b")};
  TaskNeeds needs = Needs();
  needs.host_ports = {{80, false}, {53, true}};
  Sequence random;
  auto r = MustPlace(c, needs, 3, {}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 1}));
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), "RESOURCE:PORTS"}, {Arn("b"), "RESOURCE:PORTS"}}));
  EXPECT_TRUE(c[0].used_ports.contains(PortNeed{80, false}));
  EXPECT_TRUE(c[0].used_ports.contains(PortNeed{53, true}));

  // TCP and UDP ports are different ports; reserved ports count.
  std::vector<Candidate> d = {Instance("a")};
  d[0].used_ports.insert({53, false});
  TaskNeeds udp = Needs();
  udp.host_ports = {{53, true}};
  EXPECT_EQ(MustPlace(d, udp, 1, {}, {}, random.Fn()).chosen, (Chosen{0}));
  TaskNeeds ssh = Needs();
  ssh.host_ports = {{22, false}};
  r = MustPlace(d, ssh, 1, {}, {}, random.Fn());
  EXPECT_TRUE(r.chosen.empty());
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), "RESOURCE:PORTS"}}));
}

TEST(Placement, EachFailureReasonIsExact) {
  std::vector<Candidate> c = {Instance("agent"),          Instance("attr"), Instance("cpu", 100),
                              Instance("mem", 4096, 100), Instance("port"), Instance("member"),
                              Instance("draining")};
  Facts(c[0]).agent_connected = false;
  Facts(c[1]).attributes.erase("ecs.capability.private-registry-authentication.secretsmanager");
  c[4].used_ports.insert({8080, false});
  Facts(c[5]).attributes["ecs.availability-zone"] = "us-east-1b";
  c[6].active = false;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i != 1) {
      Facts(c[i]).attributes["ecs.capability.private-registry-authentication.secretsmanager"] = "";
    }
  }
  TaskNeeds needs = Needs();
  needs.required_attributes = {"ecs.capability.private-registry-authentication.secretsmanager"};
  needs.host_ports = {{8080, false}};
  Sequence random;
  auto r = MustPlace(c, needs, 2, {{"memberOf", "attribute:ecs.availability-zone == us-east-1a"}},
                     {}, random.Fn());
  EXPECT_TRUE(r.chosen.empty());
  EXPECT_EQ(r.failures, (Failures{{Arn("agent"), "AGENT"},
                                  {Arn("attr"), "ATTRIBUTE"},
                                  {Arn("cpu"), "RESOURCE:CPU"},
                                  {Arn("mem"), "RESOURCE:MEMORY"},
                                  {Arn("port"), "RESOURCE:PORTS"},
                                  {Arn("member"), "MemberOf placement constraint unsatisfied."}}));
}

TEST(Placement, TheFirstFailingCheckIsTheReason) {
  // Disconnected and lacking the attribute: AGENT. Short of CPU and outside memberOf: CPU.
  std::vector<Candidate> c = {Instance("a"), Instance("b", 1, 1, "us-east-1b")};
  Facts(c[0]).agent_connected = false;
  TaskNeeds needs = Needs();
  needs.required_attributes = {"gpu"};
  Facts(c[1]).attributes["gpu"] = "";
  Sequence random;
  auto r = MustPlace(c, needs, 1, {{"memberOf", "attribute:ecs.availability-zone == us-east-1a"}},
                     {}, random.Fn());
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), "AGENT"}, {Arn("b"), "RESOURCE:CPU"}}));
}

TEST(Placement, FailuresAreDeduplicatedByArnAndReason) {
  std::vector<Candidate> c = {Instance("a", 1), Instance("a", 1), Instance("b", 1),
                              Instance("a", 4096, 1)};
  Sequence random;
  auto r = MustPlace(c, Needs(), 1, {}, {}, random.Fn());
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), "RESOURCE:CPU"},
                                  {Arn("b"), "RESOURCE:CPU"},
                                  {Arn("a"), "RESOURCE:MEMORY"}}));
}

TEST(Placement, DrainingInstancesAreNeverChosenAndNeverFailures) {
  std::vector<Candidate> c = {Instance("a"), Instance("b")};
  c[0].active = false;
  Sequence random;
  auto r = MustPlace(c, Needs(), 2, {}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{1, 1}));
  c[1].active = false;
  r = MustPlace(c, Needs(), 1, {}, {}, random.Fn());
  EXPECT_TRUE(r.chosen.empty());
  EXPECT_TRUE(r.failures.empty());
}

TEST(Placement, MemberOfSeesTheTasksPlacedInThisCall) {
  std::vector<Candidate> c = {Instance("a"), Instance("b")};
  Sequence random;
  // Anti-affinity with its own group acts as distinctInstance, reported as memberOf.
  auto r =
      MustPlace(c, Needs(), 3, {{"memberOf", "not(task:group == family:web)"}}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 1}));
  EXPECT_EQ(r.failures, (Failures{{Arn("a"), std::string(kReasonMemberOf)},
                                  {Arn("b"), std::string(kReasonMemberOf)}}));
  std::vector<Candidate> d = {Instance("a")};
  r = MustPlace(d, Needs(), 5, {{"memberOf", "runningTasksCount < 2"}}, {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 0}));
  // The facts are the index's: what this call placed is counted on copies, never on them.
  EXPECT_EQ(d[0].facts->running_tasks_count, 0);
  EXPECT_TRUE(d[0].facts->task_groups.empty());
}

TEST(Placement, EveryMemberOfMustHold) {
  std::vector<Candidate> c = {Instance("a"), Instance("b"),
                              Instance("c", 4096, 8192, "us-east-1b")};
  Facts(c[0]).attributes["ecs.instance-type"] = "t2.small";
  Facts(c[1]).attributes["ecs.instance-type"] = "g2.2xlarge";
  Facts(c[2]).attributes["ecs.instance-type"] = "t2.micro";
  Sequence random;
  auto r = MustPlace(c, Needs(), 2,
                     {{"memberOf", "attribute:ecs.instance-type =~ t2.*"},
                      {"memberOf", "attribute:ecs.availability-zone in [us-east-1a, us-east-1c]"}},
                     {}, random.Fn());
  EXPECT_EQ(r.chosen, (Chosen{0, 0}));
}

TEST(Placement, NothingToPlace) {
  std::vector<Candidate> none;
  Sequence random;
  auto r = MustPlace(none, Needs(), 3, {}, {}, random.Fn());
  EXPECT_TRUE(r.chosen.empty());
  EXPECT_TRUE(r.failures.empty());
  std::vector<Candidate> c = {Instance("a")};
  EXPECT_TRUE(MustPlace(c, Needs(), 0, {}, {}, random.Fn()).chosen.empty());
  EXPECT_EQ(c[0].remaining_cpu, 4096);
}

std::string PlaceError(const std::vector<PlacementConstraint>& constraints,
                       const std::vector<PlacementStrategy>& strategies) {
  auto status = ValidatePlacement(constraints, strategies);
  EXPECT_FALSE(status.has_value());
  std::vector<Candidate> c = {Instance("a")};
  auto placed = Place(c, Needs(), 1, constraints, strategies, [] { return 0; });
  EXPECT_FALSE(placed.has_value());
  if (status || placed) return "";
  EXPECT_EQ(status.error().code, "InvalidParameterException");
  EXPECT_EQ(placed.error().message, status.error().message);
  return status.error().message;
}

TEST(Placement, ValidationMessages) {
  EXPECT_TRUE(ValidatePlacement({{"distinctInstance", ""}, {"memberOf", "attribute:a exists"}},
                                {{"spread", "attribute:ecs.availability-zone"},
                                 {"spread", "instanceId"},
                                 {"binpack", "memory"},
                                 {"binpack", "cpu"},
                                 {"random", ""}})
                  .has_value());
  EXPECT_EQ(PlaceError({{"distinctInstance", "attribute:a exists"}}, {}),
            "distinctInstance expression should not be specified.");
  EXPECT_EQ(PlaceError({{"memberOf", ""}}, {}), "memberOf expression must be specified.");
  EXPECT_EQ(PlaceError({{"memberOf", "attribute:a =="}}, {}),
            "Invalid cluster query expression: missing argument after '==' at position 14.");
  EXPECT_EQ(PlaceError({{"sameZone", ""}}, {}),
            "Invalid placement constraint type 'sameZone'. Valid types are distinctInstance and "
            "memberOf.");
  EXPECT_EQ(PlaceError({}, {{"pack", "cpu"}}),
            "Invalid placement strategy type 'pack'. Valid types are random, spread and binpack.");
  EXPECT_EQ(PlaceError({}, {{"binpack", "disk"}}),
            "Invalid field 'disk' for the binpack placement strategy. Valid fields are cpu and "
            "memory.");
  EXPECT_EQ(
      PlaceError({}, {{"binpack", ""}}),
      "Invalid field '' for the binpack placement strategy. Valid fields are cpu and memory.");
  EXPECT_EQ(PlaceError({}, {{"spread", "zone"}}),
            "Invalid field 'zone' for the spread placement strategy. Valid fields are instanceId, "
            "host and attribute:<name>.");
  EXPECT_EQ(PlaceError({}, {{"spread", "attribute:"}}),
            "Invalid field 'attribute:' for the spread placement strategy. Valid fields are "
            "instanceId, host and attribute:<name>.");
  std::vector<PlacementConstraint> eleven(11, {"distinctInstance", ""});
  EXPECT_EQ(PlaceError(eleven, {}), "At most 10 placement constraints are allowed, 11 were given.");
  std::vector<PlacementStrategy> six(6, {"random", ""});
  EXPECT_EQ(PlaceError({}, six), "At most 5 placement strategies are allowed, 6 were given.");
}

}  // namespace
}  // namespace berth::ecs
