import type { BoolParam, ListParam, NumberParam, SelectParam, StringParam } from "@outpost/sdk/parameters";

// The specs, their schema and value checks live in the sdk (the server and dashboard use them too).
export type { BoolParam, ListParam, NumberParam, ParamSpec, ParamValue, ParamValues, SelectOption, SelectParam, StringParam } from "@outpost/sdk/parameters";
export { coerceParamValue, PARAM_NAME, ParamSpecSchema } from "@outpost/sdk/parameters";

type Opts<S> = Omit<S, "type">;

export const param = {
  string: (o: Opts<StringParam> = {}): StringParam => ({ type: "string", ...o }),
  number: (o: Opts<NumberParam> = {}): NumberParam => ({ type: "number", ...o }),
  bool: (o: Opts<BoolParam> = {}): BoolParam => ({ type: "bool", ...o }),
  list: (o: Opts<ListParam> = {}): ListParam => ({ type: "list", ...o }),
  select: (o: Opts<SelectParam>): SelectParam => ({ type: "select", ...o }),
};
